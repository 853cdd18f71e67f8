package push_test

import (
	"testing"

	"github.com/quire-ci/quire-hook/pkg/push"
)

func env(kv map[string]string) func(string) string {
	return func(name string) string { return kv[name] }
}

func TestOptions(t *testing.T) {
	got := push.Options(env(map[string]string{
		"GIT_PUSH_OPTION_COUNT": "2", "GIT_PUSH_OPTION_0": "deploy=staging", "GIT_PUSH_OPTION_1": "ci.skip=yes",
	}))
	if len(got) != 2 || got[0] != "deploy=staging" || got[1] != "ci.skip=yes" {
		t.Errorf("got %q", got)
	}
	if got := push.SkipOption(got); got != "ci.skip=yes" {
		t.Errorf("SkipOption: got %q", got)
	}
	for _, count := range []string{"", "0", "-1", "x"} {
		if got := push.Options(env(map[string]string{"GIT_PUSH_OPTION_COUNT": count})); got != nil {
			t.Errorf("count %q: got %q, want none", count, got)
		}
	}
	if got := push.SkipOption([]string{"ci.skipper", "skip"}); got != "" {
		t.Errorf("SkipOption of no skip: got %q", got)
	}
}

func TestSkipMarker(t *testing.T) {
	for _, tt := range []struct{ message, want string }{
		{"docs: typo [skip ci]", "[skip ci]"},
		{"wip\n\nnot ready [CI Skip] really", "[CI Skip]"},
		{"[skip  ci] [skip", ""},
		{"no marker", ""},
	} {
		if got := push.SkipMarker(tt.message); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.message, got, tt.want)
		}
	}
}

func TestPusher(t *testing.T) {
	if got := push.Pusher(env(map[string]string{"REMOTE_USER": "web", "GL_USERNAME": " alice "})); got != "alice" {
		t.Errorf("got %q, want alice (GitLab's name first, trimmed)", got)
	}
	if got, want := push.Pusher(env(nil)), push.OSUser(); got != want || got == "" {
		t.Errorf("got %q, want the OS user %q", got, want)
	}
}
