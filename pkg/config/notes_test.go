package config

import (
	"strings"
	"testing"
)

func TestLoad_Notes(t *testing.T) {
	for _, c := range []struct {
		name, lua string
		want      Notes
	}{
		{"Default", `return {}`, Notes{}},
		{"Off", `return { notes = false }`, Notes{Off: true}},
		{"On", `return { notes = true }`, Notes{}},
		{"Ref", `return { notes_ref = "refs/notes/ci" }`, Notes{Ref: "refs/notes/ci"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Load(t.Context(), write(t, c.lua), true)
			if err != nil || got.Notes != c.want || len(got.Warnings) != 0 {
				t.Errorf("got %+v, %v, warnings %q; want %+v", got.Notes, err, got.Warnings, c.want)
			}
		})
	}
	for _, c := range []struct{ name, lua, want string }{
		{"NotUnderNotes", `return { notes_ref = "refs/heads/ci" }`, `notes_ref "refs/heads/ci" must be a ref name under refs/notes/`},
		{"Short", `return { notes_ref = "ci" }`, `notes_ref "ci" must be a ref name under refs/notes/`},
		{"Bare", `return { notes_ref = "refs/notes/" }`, `must be a ref name under refs/notes/`},
		{"Invalid", `return { notes_ref = "refs/notes/a..b" }`, `must be a ref name under refs/notes/`},
		{"Type", `return { notes = "no" }`, `notes must be true or false, not a string`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(t.Context(), write(t, c.lua), true)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
