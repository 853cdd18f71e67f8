package hook

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/examples"
	"github.com/quire-ci/quire-hook/pkg/datadir"
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
		return fmt.Errorf("the demo needs git on PATH: %w", err)
	}
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "quire-demo-")
	} else {
		dir = g.abs(dir)
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("create demo directory: %w", err)
	}
	bin, err := g.io.executable()
	if err != nil {
		return err
	}
	env := g.io.Env
	if g.dataDir != "" {
		env = append(env, "QUIRE_DATA_DIR="+g.abs(g.dataDir))
	}
	if g.verbose {
		// The hook reads quire.verbose from git config; the flag has no
		// way through git, so the demo says it in the environment.
		env = append(env, "QUIRE_VERBOSE=1")
	}
	d := examples.NewDemo(dir, bin, env, g.io.Stderr)
	say := func(format string, args ...any) { fmt.Fprintf(g.io.Stdout, "==> "+format+"\n", args...) }

	say("creating a bare repository %s", d.Bare)
	res, err := d.Setup()
	if err != nil {
		return err
	}
	say("installed %s", res.Path)
	say("git push origin main (the hook's progress shows as remote: lines)")
	if err := d.Push(); err != nil {
		return err
	}

	// What the hook recorded, as 'quire-hook show' prints it.
	r, err := g.openRepo(d.Bare)
	if err != nil {
		return err
	}
	root := datadir.Root(g.dataRoot(r))
	s, err := store.Open(ctx, root.DB())
	if err != nil {
		return fmt.Errorf("open the demo's records: %w", err)
	}
	runs, err := s.ListRuns(ctx, store.RunFilter{Limit: 1})
	s.Close()
	if err != nil || len(runs) == 0 {
		return fmt.Errorf("the push recorded no run in %s (%v); is the hook executable?", root, err)
	}
	run := runs[0]
	say("recorded in %s:", root.DB())
	show := App(IO{Stdout: g.io.Stdout, Stderr: g.io.Stderr, Env: g.io.Env, Dir: g.io.Dir})
	if err := show.RunContext(ctx, []string{"quire-hook", "--data-dir", string(root), "show", run.ID}); err != nil {
		return err
	}
	fmt.Fprintf(g.io.Stdout, "\nTry:\n"+
		"  %[1]s --git-dir %[2]s runs\n"+
		"  %[1]s --git-dir %[2]s logs %[3]s test\n"+
		"  sqlite3 %[4]s 'SELECT * FROM job_summary'\n"+
		"  %[1]s --git-dir %[2]s serve    (then open http://127.0.0.1:8080/)\n"+
		"  git -C %[5]s commit --allow-empty -m again && git -C %[5]s push\n"+
		"(remove %[6]s when done)\n",
		d.Bin, d.Bare, run.ID[:13], root.DB(), d.Work, dir)
	if run.State != store.RunComplete {
		return errRunFailed
	}
	return nil
}
