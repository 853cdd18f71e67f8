package hook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/async"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// asyncWanted reports whether runs of r should go to the background.
func asyncWanted(c *cli.Context, r *gitrepo.Repo) bool {
	return c.Bool("async") || r.ConfigBool("quire", "async")
}

// startAsync queues a run for each request and hands them to a
// detached worker (pkg/async).
func (g *globals) startAsync(ctx context.Context, r *gitrepo.Repo, rn *runner.Runner, repoName string, reqs []runner.Request) error {
	// Read everything from git first, then record the runs and start
	// the worker at once: reconcile takes an owner that started well
	// after its run was queued for a reused pid.
	var pushes []runner.Push
	for _, req := range reqs {
		p, _, ok, err := runner.Prepare(r, rn.Progress, repoName, req)
		if err != nil {
			return fmt.Errorf("run %s: %w", req.Ref, err)
		}
		if ok {
			pushes = append(pushes, p)
		}
	}
	args := []string{"--git-dir", r.GitDir, "--data-dir", rn.DataRoot}
	if g.config != "" {
		args = append(args, "--config", g.abs(g.config))
	}
	if g.verbose {
		args = append(args, "--verbose")
	}
	logPath := datadir.Root(rn.DataRoot).AsyncLog()
	w := async.Worker{Bin: g.io.Executable, Args: append(args, "async-worker"), Env: g.io.Env, Dir: r.GitDir, Log: logPath}
	runs, warnings, err := async.Queue(ctx, rn, pushes, w)
	for _, err := range warnings {
		rn.Progress.Failf("warning: %v", err)
	}
	for _, run := range runs {
		rn.Progress.Infof("run %s queued for %s at %s; it runs in the background (%s show %s, or see %s)",
			run.RunID, run.Ref, gitrepo.ShortSHA(run.Commit), runner.ServerCommand(r.GitDir), run.RunID[:13], logPath)
	}
	return err
}

// printFeedback prints, first thing on a push to a repo in async mode,
// the outcomes of its async runs that ended since a push last printed
// them (SPEC §13, async feedback). It never fails the push: a store
// that does not open is reported by the run that follows.
func (g *globals) printFeedback(ctx context.Context, r *gitrepo.Repo) {
	s, err := store.OpenRoot(ctx, g.dataRoot(r))
	if err != nil {
		return
	}
	defer s.Close()
	if err := async.Feedback(ctx, s, g.repoName(r), runner.ServerCommand(r.GitDir), g.io.Stderr, time.Now().UnixMilli()); err != nil {
		g.progress(r).Failf("warning: %v; the next push prints them", err)
	}
}

func asyncWorkerCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:   "async-worker",
		Usage:  "run the pipelines an async post-receive queued (started by the hook itself)",
		Hidden: true,
		Action: g.asyncWorker,
	}
}

// asyncWorker executes the runs an async hook queued, one after another.
func (g *globals) asyncWorker(c *cli.Context) error {
	ctx := c.Context
	runs, err := async.Decode(g.io.Stdin)
	if err != nil {
		return fmt.Errorf("async-worker is started by an async post-receive, not by hand (%w)", err)
	}
	fmt.Fprintf(g.io.Stderr, "quire: %s async worker %d: %d run(s)\n", time.Now().UTC().Format(time.RFC3339), os.Getpid(), len(runs))
	r, err := g.openRepo(g.gitDir)
	if err != nil {
		return err
	}
	dataRoot := g.dataRoot(r)
	s, err := store.OpenRoot(ctx, dataRoot)
	if err != nil {
		return err
	}
	defer s.Close()
	mine, skipped := async.Adopt(ctx, s, runs)
	for _, err := range skipped {
		fmt.Fprintf(g.io.Stderr, "quire: %v; skipping it\n", err)
	}
	rn, err := g.newRunner(ctx, r, s, dataRoot)
	if err != nil {
		// This worker owns the runs: it records why none will run.
		async.Abort(ctx, s, mine, fmt.Sprintf("set up the background worker: %v", err))
		return err
	}
	sweepQuietly(ctx, s, dataRoot, g.io.Stderr)
	failed := false
	for _, a := range mine {
		row, err := s.GetRun(ctx, a.RunID)
		if err != nil || row.State != store.RunPending {
			rn.Progress.Failf("run %s is no longer pending (%v); skipping it", a.RunID, err)
			continue
		}
		p, src, ok, err := runner.Prepare(r, rn.Progress, row.Repo, runner.Request{
			Commit: plumbing.NewHash(a.Commit), Ref: a.Ref, Previous: a.Previous,
			Trigger: row.Trigger, Options: a.Options, PushedAt: a.PushedAt,
		})
		if !ok && err == nil {
			err = errors.New("the commit has no .quire/ci.lua")
		}
		if err != nil {
			async.Abort(ctx, s, []async.Run{a}, fmt.Sprintf("prepare run: %v", err))
			continue
		}
		res, err := rn.Execute(ctx, rn.Queued(row), p, src)
		if err != nil {
			return err
		}
		g.applyKeepRuns(ctx, rn, row.Repo)
		failed = failed || res.State == store.RunFailed
	}
	if failed {
		return errRunFailed
	}
	return nil
}
