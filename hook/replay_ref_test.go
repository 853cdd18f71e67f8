package hook_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/hook"
	"github.com/quire-ci/quire-hook/internal/gittest"
)

// TestReplay_Ref: --ref takes what post-receive would take, a branch
// name standing for refs/heads/<name>, and refuses the rest with one
// usage line (SPEC §11).
func TestReplay_Ref(t *testing.T) {
	f := gittest.New(t)
	f.Write("README", "no pipeline here\n")
	sha := f.Commit("no pipeline")
	if out, err := f.Push("origin", "main"); err != nil {
		t.Fatal(out)
	}
	replay := func(t *testing.T, ref string) (stdout, stderr string, code int) {
		t.Helper()
		var out, errs bytes.Buffer
		code = hook.Main(context.Background(), []string{"quire-hook", "--git-dir", f.Bare, "replay", "--ref", ref, "main"},
			hook.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs, Env: f.Env, Dir: f.Work})
		return out.String(), errs.String(), code
	}

	t.Run("Good", func(t *testing.T) {
		for _, c := range []struct{ ref, recorded string }{
			{"main", "refs/heads/main"},
			{"feature/x", "refs/heads/feature/x"},
			{"refs/heads/main", "refs/heads/main"},
			{"refs/tags/v1.0", "refs/tags/v1.0"},
			{"refs/heads/café", "refs/heads/café"},
		} {
			// A commit without a pipeline says which ref it would
			// have run for, and records nothing.
			stdout, stderr, code := replay(t, c.ref)
			if code != 0 {
				t.Errorf("replay --ref %q: exit %d, want 0:\n%s%s", c.ref, code, stdout, stderr)
			}
			if want := "no .quire/ci.lua at " + sha[:10] + " (" + c.recorded + ")"; !strings.Contains(stdout+stderr, want) {
				t.Errorf("replay --ref %q: output lacks %q:\n%s%s", c.ref, want, stdout, stderr)
			}
		}
	})
	t.Run("Bad", func(t *testing.T) {
		for _, c := range []struct{ ref, why string }{
			{"", "empty ref name"},
			{"a\nb", "control character"},
			{"main\n", "control character"},
			{"a b", "space"},
			{"../../etc", `".."`},
			{"refs/heads/../../etc", `".."`},
			{"refs/heads/x.lock", ".lock"},
			{"x~1", `"~"`},
			{"refs/heads/", "ends with /"},
			{"feature//x", `"//"`},
			{".hidden", "starts with ."},
			{strings.Repeat("a", 2000), "limit"},
		} {
			stdout, stderr, code := replay(t, c.ref)
			if code != 2 {
				t.Errorf("replay --ref %q: exit %d, want 2:\n%s%s", c.ref, code, stdout, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "quire-hook: ") {
				t.Errorf("replay --ref %q: stderr is not one quire-hook: line:\n%s", c.ref, stderr)
			}
			for _, want := range []string{c.why, "--ref", "refs/heads/main"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("replay --ref %q: stderr lacks %q:\n%s", c.ref, want, stderr)
				}
			}
			if stdout != "" {
				t.Errorf("replay --ref %q: printed %q", c.ref, stdout)
			}
		}
	})
}

func TestReplay_RefRecorded(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	sha := r.Commit("one")
	r.push()
	out, code := r.quire("", "--git-dir", r.Bare, "replay", "--ref", "feature/x", sha[:8])
	if code != 0 {
		t.Fatalf("replay: exit %d:\n%s", code, out)
	}
	run, _, _ := r.lastRun()
	if run.Ref != "refs/heads/feature/x" || run.Trigger != "replay" || run.SHA != sha || run.State != "complete" {
		t.Errorf("run %s %s of %s: %s, want a complete replay of refs/heads/feature/x", run.Trigger, run.Ref, run.SHA, run.State)
	}
	out, code = r.quire("", "--git-dir", r.Bare, "replay", "--ref", "../../etc", sha[:8])
	if code != 2 || strings.Count(out, "\n") != 1 {
		t.Errorf("replay --ref ../../etc: exit %d, want 2 with one line:\n%s", code, out)
	}
	wantContains(t, out, `quire-hook: bad --ref: ref "refs/heads/../../etc" contains ".."; give a branch name such as main`)
	if n := len(r.runs()); n != 2 {
		t.Errorf("%d runs recorded, want 2 (the push and one replay)", n)
	}
}
