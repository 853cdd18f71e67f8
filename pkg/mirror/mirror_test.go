package mirror

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url, want string // want: "" for valid, else part of the error
	}{
		{"https://example.com/a/b.git", ""},
		{"http://127.0.0.1:8080/b.git", ""},
		{"/srv/git/b.git", ""},
		{"file:///srv/git/b.git", ""},
		{"", "empty"},
		{"b.git", "is not an http(s):// or file:// URL or an absolute path"},
		{"ssh://git@example.com/b.git", `scheme "ssh" is not supported`},
		{"git@example.com:a/b.git", "is not an http(s)"},
		{"https:///b.git", "has no host"},
		{"https://x-access-token:abcd@example.com/b.git", "holds credentials"},
		{"file://host/srv/b.git", "must be file:///absolute/path"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURL(tt.url)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "abcd") {
				t.Errorf("error %v repeats the credentials", err)
			}
		})
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:secret@example.com/b.git": "https://example.com/b.git",
		"file:///srv/b.git":                  "/srv/b.git",
		"/srv/b.git":                         "/srv/b.git",
	} {
		if got := Display(in); got != want {
			t.Errorf("Display(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRefSpec(t *testing.T) {
	tests := []struct{ ref, want, err string }{
		{"refs/heads/main", "refs/heads/main:refs/heads/main", ""},
		{"refs/heads/main:refs/heads/mirror", "refs/heads/main:refs/heads/mirror", ""},
		{"refs/heads/*:refs/heads/*", "refs/heads/*:refs/heads/*", ""},
		{"+refs/heads/main", "", "never forces"},
		{"main", "", "must name full refs"},
		{"refs/heads/a..b", "", "not a valid ref name"},
		{"refs/heads/*:refs/heads/x", "", "refs/heads/*:refs/heads/x"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := RefSpec(tt.ref)
			if tt.err == "" {
				if err != nil || string(got) != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("got %q, %v; want an error with %q", got, err, tt.err)
			}
		})
	}
}

func TestCreateTag(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@x", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@x")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	bare := filepath.Join(dir, "r.git")
	git("init", "--quiet", "--bare", bare)
	tree := git("--git-dir", bare, "mktree")
	first := plumbing.NewHash(git("--git-dir", bare, "commit-tree", "-m", "one", tree))
	second := plumbing.NewHash(git("--git-dir", bare, "commit-tree", "-m", "two", tree))

	t.Run("New", func(t *testing.T) {
		created, err := CreateTag(bare, "v1", first)
		if err != nil || !created {
			t.Fatalf("got %v, %v; want created", created, err)
		}
		if got := git("--git-dir", bare, "rev-parse", "refs/tags/v1"); got != first.String() {
			t.Errorf("v1 = %s, want %s", got, first)
		}
	})
	t.Run("SameCommit", func(t *testing.T) {
		if created, err := CreateTag(bare, "v1", first); err != nil || created {
			t.Errorf("got %v, %v; want kept", created, err)
		}
	})
	t.Run("Elsewhere", func(t *testing.T) {
		_, err := CreateTag(bare, "v1", second)
		if err == nil || !strings.Contains(err.Error(), "already exists at "+first.String()) {
			t.Errorf("got %v, want an error", err)
		}
	})
	t.Run("InvalidName", func(t *testing.T) {
		if _, err := CreateTag(bare, "a b", first); err == nil {
			t.Error("got no error for the tag name \"a b\"")
		}
	})
}
