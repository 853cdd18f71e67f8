package examples

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/install"
)

// Demo is the throwaway setup of 'quire-hook demo': a bare repository
// with quire-hook installed as its post-receive hook, and a work tree of
// the demo project, committed, whose origin is the bare repository.
type Demo struct {
	Dir  string    // holds everything
	Bare string    // Dir/demo.git
	Work string    // Dir/work
	Bin  string    // Dir/quire-hook, the copy of quire-hook the hook runs
	Env  []string  // git's environment
	Out  io.Writer // git's output
}

// NewDemo plans a demo in dir that installs a copy of bin. env is the
// caller's environment: its GIT_* variables, which would redirect git,
// are dropped, and a demo identity and an empty git config are added.
func NewDemo(dir, bin string, env []string, out io.Writer) *Demo {
	d := &Demo{Dir: dir, Bare: filepath.Join(dir, "demo.git"), Work: filepath.Join(dir, "work"), Out: out}
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GIT_") {
			d.Env = append(d.Env, kv)
		}
	}
	d.Env = append(d.Env,
		"GIT_AUTHOR_NAME=quire demo", "GIT_AUTHOR_EMAIL=demo@quire.invalid",
		"GIT_COMMITTER_NAME=quire demo", "GIT_COMMITTER_EMAIL=demo@quire.invalid",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	)
	d.Bin = bin
	return d
}

// Setup creates the bare repository, installs a copy of the binary in
// it, and commits the demo project in the work tree.
func (d *Demo) Setup() (install.Result, error) {
	if err := d.git(d.Dir, "init", "--quiet", "--bare", "--initial-branch=main", d.Bare); err != nil {
		return install.Result{}, err
	}
	r, err := gitrepo.Open(d.Bare)
	if err != nil {
		return install.Result{}, err
	}
	// A copy: under 'go run' the original is deleted on exit, and the
	// demo repository should keep working afterwards.
	bin := filepath.Join(d.Dir, "quire-hook")
	if err := copyFile(d.Bin, bin); err != nil {
		return install.Result{}, err
	}
	d.Bin = bin
	res, err := install.Hook(r, bin, install.Keep)
	if err != nil {
		return res, err
	}
	sub, err := fs.Sub(FS, "demo")
	if err != nil {
		return res, fmt.Errorf("find the demo example: %w", err)
	}
	if err := os.CopyFS(d.Work, sub); err != nil {
		return res, fmt.Errorf("copy the demo example to %s: %w", d.Work, err)
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		// So that the commands the demo suggests work as they are.
		{"config", "user.name", "quire demo"},
		{"config", "user.email", "demo@quire.invalid"},
		{"add", "-A"},
		{"commit", "--quiet", "-m", "demo: a tiny Go program and its pipeline"},
		{"remote", "add", "origin", d.Bare},
	} {
		if err := d.git(d.Work, args...); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Push pushes the work tree to the bare repository: its hook runs.
func (d *Demo) Push() error {
	return d.git(d.Work, "push", "--set-upstream", "origin", "main")
}

func (d *Demo) git(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = d.Env
	cmd.Stdout, cmd.Stderr = d.Out, d.Out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// copyFile copies src to dst, executable.
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}
