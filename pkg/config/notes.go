package config

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	lua "github.com/yuin/gopher-lua"
)

// Notes is config.lua's part for git notes of run results (SPEC §13);
// the zero value writes them under the default ref.
type Notes struct {
	// Off is notes = false: no note is written.
	Off bool
	// Ref is notes_ref, a ref under refs/notes/; "" means
	// refs/notes/quire.
	Ref string
}

// parseNotes reads notes or notes_ref into c.Notes.
func (c *Config) parseNotes(key string, v lua.LValue) error {
	switch key {
	case "notes":
		on, err := boolean(key, v)
		if err != nil {
			return err
		}
		c.Notes.Off = !on
	case "notes_ref":
		s, err := str(key, v)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(s, "refs/notes/") || s == "refs/notes/" || plumbing.ReferenceName(s).Validate() != nil {
			return fmt.Errorf("notes_ref %q must be a ref name under refs/notes/, such as \"refs/notes/ci\"", s)
		}
		c.Notes.Ref = s
	}
	return nil
}
