package hook_test

import (
	"strings"
	"testing"
)

func TestShowAndRuns_EscapeWhatPushersWrite(t *testing.T) {
	// A commit message is the pusher's: an escape sequence in it must
	// not reach the operator's terminal through runs or show, and bytes
	// that are not UTF-8 are shown, not passed on.
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("a", {"quire/push"}, function(q) error("bad \27[2J \255 end") end)`)
	r.Commit("subject \x1b]0;owned\x07 \x1b[31mred\x9b bytes \xff\xfe")
	r.push()
	for _, args := range [][]string{{"runs"}, {"show", "latest"}} {
		out, code := r.inProcess("", append([]string{"--git-dir", r.Bare}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
		if strings.ContainsAny(out, "\x1b\x07\x9b") || strings.Contains(out, "\xff") {
			t.Errorf("%v printed control or invalid bytes: %q", args, out)
		}
		wantContains(t, out, `subject \x1b]0;owned\x07`)
	}
	out, _ := r.inProcess("", "--git-dir", r.Bare, "show", "latest")
	wantContains(t, out, `bad \x1b[2J \xff end`)
	wantContains(t, out, `red\u009b bytes`) // git keeps \x9b as U+009B, a C1 code
}
