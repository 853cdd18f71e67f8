package hook

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/install"
	"github.com/quire-ci/quire-hook/pkg/push"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func postReceiveCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "post-receive",
		Usage:     "what git runs after a push: run the pipeline of every updated ref",
		UsageText: "quire-hook post-receive < '<old-sha> <new-sha> <ref>' lines (git's hook input)",
		Description: "Reads git's post-receive input, and for every ref that was not deleted runs\n" +
			"the pipeline (.quire/ci.lua) of its new commit, in input order. Install it with\n" +
			"'quire-hook install'. To run a pipeline by hand, use 'quire-hook replay <rev>'.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "async", Usage: "queue the runs and return at once; a background process runs them (also: git config quire.async=true)"},
			&cli.StringFlag{Name: "chain", Usage: "run this hook first, with the same input (written by 'install --chain'); its failure is reported and CI runs anyway"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("post-receive takes no arguments, it reads ref updates on stdin")
			}
			return g.postReceive(c)
		},
	}
}

// postReceive runs one run per updated ref. Bad lines and unknown
// commits are reported and skipped; they never stop the other refs.
func (g *globals) postReceive(c *cli.Context) error {
	ctx := c.Context
	if f, ok := g.io.Stdin.(*os.File); ok && isTerminal(f) {
		return usageErr("post-receive is run by git, not by hand (stdin is a terminal); to run a pipeline yourself use 'quire-hook replay <rev>'")
	}
	if chained := c.String("chain"); chained != "" {
		// The other hook runs first, whatever happens to CI after it.
		input, err := io.ReadAll(g.io.Stdin)
		if err != nil {
			return fmt.Errorf("read ref updates from stdin: %w", err)
		}
		hook := install.Chained{Path: g.abs(chained), Stdout: g.io.Stdout, Stderr: g.io.Stderr, Env: g.io.Env, Dir: g.io.Dir}
		if err := hook.Run(ctx, input); err != nil {
			g.progress(nil).Failf("warning: %v; CI runs anyway", err)
		}
		g.io.Stdin = bytes.NewReader(input)
	}
	r, err := g.openRepo(g.io.Getenv("GIT_DIR"), g.gitDir)
	if err != nil {
		return err
	}
	background := asyncWanted(c, r)
	if background {
		// What nobody saw of the earlier background runs comes first.
		g.printFeedback(ctx, r)
	}
	updates, bad, err := push.Parse(g.io.Stdin)
	if err != nil {
		return err
	}
	prog := g.progress(r)
	for _, b := range bad {
		prog.Failf("skipping %v", b)
	}
	opts := push.Options(g.io.Getenv)
	if o := push.SkipOption(opts); o != "" {
		prog.Infof("push option %s: no run for this push", o)
		return nil
	}

	rn, closeStore, err := g.openRunner(ctx, r)
	if err != nil {
		return err
	}
	defer closeStore()
	repoName := g.repoName(r)
	pusher := g.pusher()

	// Which refs get a run: not deleted ones, nor those whose commit
	// says to skip.
	var reqs []runner.Request
	badInput := len(bad) > 0
	for _, u := range updates {
		if u.Deleted() {
			prog.Infof("%s deleted: nothing to run", u.Ref)
			continue
		}
		commit, err := r.Peel(plumbing.NewHash(u.New))
		if err != nil {
			prog.Failf("skipping %s: %s is not a commit (or annotated tag) in %s: %v", u.Ref, gitrepo.ShortSHA(u.New), r.GitDir, err)
			badInput = true
			continue
		}
		if c, err := r.Commit(commit); err == nil {
			if m := push.SkipMarker(c.Message); m != "" {
				prog.Infof("%s: commit %s says %s: no run for this ref", u.Ref, gitrepo.ShortSHA(commit.String()), m)
				continue
			}
		}
		reqs = append(reqs, runner.Request{Commit: commit, Ref: u.Ref, Previous: u.Old, Trigger: "push", Options: opts, Pusher: pusher})
	}
	if background {
		if err := g.startAsync(ctx, r, rn, repoName, reqs); err != nil {
			return err
		}
		reqs = nil // the worker runs them
	}

	failed := false
	var internal error
	for _, req := range reqs {
		if ctx.Err() != nil {
			break
		}
		res, ran, err := g.launch(ctx, r, rn, repoName, req)
		if err != nil {
			// The other refs still get their runs.
			prog.Failf("run of %s: %v", req.Ref, err)
			internal = err
			continue
		}
		failed = failed || (ran && res.State == store.RunFailed)
	}
	switch {
	case internal != nil:
		return fmt.Errorf("a run could not be recorded (see above): %w", internal)
	case badInput:
		return usageErr("some ref updates were skipped (see above)")
	case failed:
		return errRunFailed
	}
	return nil
}

// pusher names who pushed, for runs.pusher.
func (g *globals) pusher() string { return push.Pusher(g.io.Getenv) }

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
