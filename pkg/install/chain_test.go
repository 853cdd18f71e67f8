package install_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/install"
)

func TestChained_Run(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name, path, want string
	}{
		{"Succeeds", script("ok", "cat; echo \"in $PWD $FOO\"\n"), ""},
		{"Fails", script("fails", "exit 3\n"), "exited 3"},
		{"Killed", script("killed", "kill -TERM $$\n"), "ended by signal: terminated"},
		{"Missing", filepath.Join(dir, "missing"), "did not run"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c := install.Chained{Path: tt.path, Stdout: &out, Stderr: &out, Env: []string{"FOO=bar"}, Dir: dir}
			err := c.Run(t.Context(), []byte("old new refs/heads/main\n"))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := out.String(), "old new refs/heads/main\nin "+dir+" bar\n"; got != want {
					t.Errorf("output %q, want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %v, want one naming %s and saying %q", err, tt.path, tt.want)
			}
		})
	}
}
