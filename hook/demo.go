package hook

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/examples"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func demoCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "push the example project to a throwaway repository and show what was recorded",
		Description: "Creates a bare repository in a temporary directory, installs this binary as\n" +
			"its post-receive hook, pushes examples/demo to it with git, and prints the run\n" +
			"the hook recorded. Needs only git (and go, which the demo pipeline uses).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "where to build the demo (default: a new temporary directory)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			return g.demo(c, c.String("dir"))
		},
	}
}

func (g *globals) demo(c *cli.Context, dir string) error {
	ctx := c.Context
	if _, err := exec.LookPath("git"); err != nil {
		return usageErr("the demo needs git on PATH: %v", err)
	}
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "quire-demo-")
	} else {
		dir = g.abs(dir)
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return usageErr("create demo directory: %v", err)
	}
	bare := filepath.Join(dir, "demo.git")
	work := filepath.Join(dir, "work")
	say := func(format string, args ...any) { fmt.Fprintf(g.io.Stdout, "==> "+format+"\n", args...) }

	// A bare repository with this very binary as its hook.
	say("creating a bare repository %s", bare)
	env := g.demoEnv()
	if err := runGit(env, dir, g, "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return err
	}
	r, err := gitrepo.Open(bare)
	if err != nil {
		return usageErr("%v", err)
	}
	// A copy of this binary: under 'go run' the original is deleted on
	// exit, and the demo repository should keep working afterwards.
	bin := filepath.Join(dir, "quire-hook")
	if err := copySelf(bin); err != nil {
		return usageErr("%v", err)
	}
	res, err := installHook(r, bin, keepForeign)
	if err != nil {
		return usageErr("%v", err)
	}
	say("installed %s", res.path)

	// The example project, committed and pushed with the real git CLI.
	if err := copyExample("demo", work); err != nil {
		return usageErr("%v", err)
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		// So that the commands suggested at the end work as they are.
		{"config", "user.name", "quire demo"},
		{"config", "user.email", "demo@quire.invalid"},
		{"add", "-A"},
		{"commit", "--quiet", "-m", "demo: a tiny Go program and its pipeline"},
		{"remote", "add", "origin", bare},
	} {
		if err := runGit(env, work, g, args...); err != nil {
			return err
		}
	}
	say("git push origin main (the hook's progress shows as remote: lines)")
	if err := runGit(env, work, g, "push", "--set-upstream", "origin", "main"); err != nil {
		return err
	}

	// What the hook recorded.
	dataRoot := g.dataRoot(r)
	s, err := store.Open(ctx, filepath.Join(dataRoot, "quire.db"))
	if err != nil {
		return usageErr("open the demo's records: %v", err)
	}
	defer s.Close()
	runs, err := s.ListRuns(ctx, store.RunFilter{Limit: 1})
	if err != nil || len(runs) == 0 {
		return usageErr("the push recorded no run in %s (%v); is the hook executable?", dataRoot, err)
	}
	rec, err := loadRecord(ctx, s, runs[0].ID)
	if err != nil {
		return usageErr("%v", err)
	}
	say("recorded in %s:", filepath.Join(dataRoot, "quire.db"))
	printRecord(g.io.Stdout, rec, dataRoot)
	fmt.Fprintf(g.io.Stdout, "\nTry:\n"+
		"  %[1]s --git-dir %[2]s runs\n"+
		"  %[1]s --git-dir %[2]s logs %[3]s test\n"+
		"  sqlite3 %[4]s 'SELECT * FROM job_summary'\n"+
		"  git -C %[5]s commit --allow-empty -m again && git -C %[5]s push\n"+
		"(remove %[6]s when done)\n",
		bin, bare, rec.Run.ID[:13], filepath.Join(dataRoot, "quire.db"), work, dir)
	if rec.Run.State != "complete" {
		return errRunFailed
	}
	return nil
}

// copySelf copies the running binary to dst, executable.
func copySelf(dst string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary's path: %w", err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		return fmt.Errorf("read %s: %w", self, err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return fmt.Errorf("copy this binary to %s: %w", dst, err)
	}
	return nil
}

// demoEnv is the environment for the demo's git commands: the caller's,
// without GIT_* variables that would redirect git, with an identity.
func (g *globals) demoEnv() []string {
	var env []string
	for _, kv := range g.io.Env {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"GIT_AUTHOR_NAME=quire demo", "GIT_AUTHOR_EMAIL=demo@quire.invalid",
		"GIT_COMMITTER_NAME=quire demo", "GIT_COMMITTER_EMAIL=demo@quire.invalid",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	)
	if g.dataDir != "" {
		env = append(env, "QUIRE_DATA_DIR="+g.abs(g.dataDir))
	}
	if g.verbose {
		// The hook reads quire.verbose from git config; the flag has no
		// way through git, so the demo says it in the environment.
		env = append(env, "QUIRE_VERBOSE=1")
	}
	return env
}

func runGit(env []string, dir string, g *globals, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = g.io.Stderr
	cmd.Stderr = g.io.Stderr
	if err := cmd.Run(); err != nil {
		return usageErr("git %s: %v", strings.Join(args, " "), err)
	}
	return nil
}

// copyExample writes the embedded example dir into dst.
func copyExample(name, dst string) error {
	sub, err := fs.Sub(examples.FS, name)
	if err != nil {
		return fmt.Errorf("find example %s: %w", name, err)
	}
	if err := os.CopyFS(dst, sub); err != nil {
		return fmt.Errorf("copy example %s to %s: %w", name, dst, err)
	}
	return nil
}
