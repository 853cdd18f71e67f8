package hook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// adminCommands are the commands that only read or administer records;
// none of them may create a data root or a database.
var adminCommands = [][]string{
	{"runs"},
	{"show", "latest"},
	{"logs", "latest"},
	{"cancel", "latest"},
	{"gc", "--keep", "1"},
	{"gc", "--json"},
	{"reconcile"},
	{"reconcile", "--json"},
}

func TestAdmin_MissingDatabase(t *testing.T) {
	r := newRepo(t)
	t.Run("MistypedDataDir", func(t *testing.T) {
		typo := filepath.Join(t.TempDir(), "qurie")
		for _, args := range adminCommands {
			out, code := r.quire("", append([]string{"--data-dir", typo}, args...)...)
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("%v: exit %d, want 2 with one line:\n%s", args, code, out)
			}
			wantContains(t, out, "no database at "+filepath.Join(typo, "quire.db"))
			wantContains(t, out, "check --git-dir and --data-dir")
			if _, err := os.Stat(typo); !os.IsNotExist(err) {
				t.Fatalf("%v created %s (%v)", args, typo, err)
			}
		}
	})
	t.Run("RepoWithoutRuns", func(t *testing.T) {
		// The repo's own data root, <git-dir>/quire, is not created
		// either.
		for _, args := range adminCommands {
			out, code := r.quire("", append([]string{"--git-dir", r.Bare}, args...)...)
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("%v: exit %d, want 2 with one line:\n%s", args, code, out)
			}
			wantContains(t, out, filepath.Join(r.Bare, "quire", "quire.db"))
			if _, err := os.Stat(filepath.Join(r.Bare, "quire")); !os.IsNotExist(err) {
				t.Fatalf("%v created the data root (%v)", args, err)
			}
		}
	})
	t.Run("EmptyDataRoot", func(t *testing.T) {
		// A data root that exists gets no database.
		dir := t.TempDir()
		env := append(r.Env, "QUIRE_DATA_DIR="+dir)
		for _, args := range adminCommands {
			out, code := runBin(t, env, r.Work, "", args...)
			if code != 2 {
				t.Errorf("%v: exit %d, want 2:\n%s", args, code, out)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Fatalf("%v wrote %d entries into the data root", args, len(entries))
			}
		}
	})
}
