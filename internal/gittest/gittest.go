// Package gittest builds real git repositories for tests with the git
// CLI: a bare repository and a work tree that pushes to it.
package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Fixture is a bare repository and a work tree whose origin is it.
type Fixture struct {
	tb   testing.TB
	Bare string // the bare repository
	Work string // the work tree
	Env  []string
}

// Env returns a clean environment for git: no GIT_* from the caller, no
// user or system config, a fixed identity.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "QUIRE_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	)
}

// New creates dir/repo.git (bare) and dir/work with origin set to it,
// both on branch main.
func New(tb testing.TB) *Fixture {
	tb.Helper()
	dir := tb.TempDir()
	f := &Fixture{tb: tb, Bare: filepath.Join(dir, "repo.git"), Work: filepath.Join(dir, "work"), Env: Env()}
	f.Git(dir, "init", "--quiet", "--bare", "--initial-branch=main", f.Bare)
	f.Git(dir, "init", "--quiet", "--initial-branch=main", f.Work)
	f.Git(f.Work, "remote", "add", "origin", f.Bare)
	return f
}

// Git runs git in dir and returns its trimmed stdout; it fails the test
// on error.
func (f *Fixture) Git(dir string, args ...string) string {
	f.tb.Helper()
	out, err := f.TryGit(dir, args...)
	if err != nil {
		f.tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TryGit runs git in dir and returns its combined output and error.
func (f *Fixture) TryGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = f.Env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Write writes a file in the work tree, creating parent directories.
func (f *Fixture) Write(path, content string) {
	f.tb.Helper()
	f.WriteMode(path, content, 0o644)
}

// WriteMode writes a file in the work tree with the given mode.
func (f *Fixture) WriteMode(path, content string, mode os.FileMode) {
	f.tb.Helper()
	p := filepath.Join(f.Work, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		f.tb.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		f.tb.Fatal(err)
	}
}

// Symlink creates a symlink in the work tree.
func (f *Fixture) Symlink(target, path string) {
	f.tb.Helper()
	p := filepath.Join(f.Work, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.tb.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		f.tb.Fatal(err)
	}
}

// Pipeline writes .quire/ci.lua.
func (f *Fixture) Pipeline(lua string) { f.tb.Helper(); f.Write(".quire/ci.lua", lua) }

// Commit commits everything in the work tree and returns the sha.
func (f *Fixture) Commit(msg string) string {
	f.tb.Helper()
	f.Git(f.Work, "add", "-A")
	f.Git(f.Work, "commit", "--quiet", "--allow-empty", "-m", msg)
	return f.Git(f.Work, "rev-parse", "HEAD")
}

// Push pushes the work tree to the bare repository and returns git's
// combined output (the hook's progress shows as "remote:" lines).
func (f *Fixture) Push(args ...string) (string, error) {
	return f.TryGit(f.Work, append([]string{"push"}, args...)...)
}
