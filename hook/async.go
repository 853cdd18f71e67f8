package hook

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// An async hook (git config quire.async=true, or post-receive --async)
// records its runs as pending, hands them to a detached worker process
// (its own session, no terminal, output appended to
// <data-root>/async.log) and returns, so the pusher does not wait. The
// worker is this binary's hidden async-worker command; what each run
// needs beyond its row travels in one environment variable.

// asyncEnv carries the worker's runs; the worker drops it from the
// environment its jobs see.
const asyncEnv = "QUIRE_ASYNC_RUNS"

// asyncRun is one run handed to the worker.
type asyncRun struct {
	RunID    string    `json:"run_id"`
	Commit   string    `json:"commit"`
	Ref      string    `json:"ref"`
	Previous string    `json:"previous,omitempty"`
	Options  []string  `json:"options,omitempty"`
	PushedAt time.Time `json:"pushed_at"`
}

// asyncWanted reports whether runs of r should go to the background.
func asyncWanted(c *cli.Context, r *gitrepo.Repo) bool {
	return c.Bool("async") || r.ConfigBool("quire", "async")
}

// startAsync queues a run for each request and starts the worker.
func (g *globals) startAsync(ctx context.Context, r *gitrepo.Repo, rn *runner.Runner, repoName string, reqs []request) error {
	s, dataRoot := rn.Store, rn.DataRoot
	// Read everything from git first, then record the runs and start
	// the worker at once: reconcile takes an owner that started well
	// after its run was queued for a reused pid.
	var pushes []runner.Push
	for _, req := range reqs {
		p, _, ok, err := prepare(r, rn.Progress, repoName, req)
		if err != nil {
			return &exitError{code: ExitError, err: fmt.Errorf("run %s: %w", req.ref, err)}
		}
		if ok {
			pushes = append(pushes, p)
		}
	}
	var runs []asyncRun
	for _, p := range pushes {
		res, err := rn.Enqueue(ctx, p)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		runs = append(runs, asyncRun{RunID: res.RunID, Commit: p.SHA, Ref: p.Ref, Previous: p.PreviousSHA, Options: p.Options, PushedAt: p.PushedAt})
	}
	if len(runs) == 0 {
		return nil
	}
	logPath := filepath.Join(dataRoot, "async.log")
	pid, err := g.spawnWorker(r, dataRoot, logPath, runs)
	if err != nil {
		// Nobody will run them: say so in their rows rather than leave
		// them pending for reconcile to find.
		for _, run := range runs {
			_, _ = s.AbortRun(context.WithoutCancel(ctx), run.RunID, "failed", store.FailInternal,
				fmt.Sprintf("start the background worker: %v", err), time.Now().UnixMilli())
		}
		return &exitError{code: ExitError, err: fmt.Errorf("start the background worker: %w; set quire.async=false to run in the foreground", err)}
	}
	host, _ := os.Hostname()
	for _, run := range runs {
		// The worker adopts its runs as it starts; this covers the
		// time until then. Either way a run has a live owner, so no
		// reconcile takes it for an orphan while this hook exits.
		if _, err := s.HandOver(ctx, run.RunID, os.Getpid(), pid, host); err != nil {
			rn.Progress.Failf("warning: %v", err)
		}
		rn.Progress.Infof("run %s queued for %s at %s; it runs in the background (quire-hook show %s, or see %s)",
			run.RunID, run.Ref, gitrepo.ShortSHA(run.Commit), run.RunID[:13], logPath)
	}
	return nil
}

// spawnWorker starts the detached worker and returns its pid.
func (g *globals) spawnWorker(r *gitrepo.Repo, dataRoot, logPath string, runs []asyncRun) (int, error) {
	bin, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find this binary: %w", err)
	}
	data, err := json.Marshal(runs)
	if err != nil {
		return 0, fmt.Errorf("encode runs: %w", err)
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", logPath, err)
	}
	defer log.Close()
	args := []string{"--git-dir", r.GitDir, "--data-dir", dataRoot}
	if g.config != "" {
		args = append(args, "--config", g.abs(g.config))
	}
	if g.verbose {
		args = append(args, "--verbose")
	}
	args = append(args, "async-worker")
	cmd := exec.Command(bin, args...)
	cmd.Dir = r.GitDir
	cmd.Env = append(withoutVar(g.io.Env, asyncEnv), asyncEnv+"="+string(data))
	cmd.Stdout, cmd.Stderr = log, log // stdin is /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", bin, err)
	}
	pid := cmd.Process.Pid
	return pid, cmd.Process.Release()
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
	var runs []asyncRun
	if err := json.Unmarshal([]byte(g.io.Getenv(asyncEnv)), &runs); err != nil {
		return usageErr("async-worker is started by an async post-receive, not by hand (%s: %v)", asyncEnv, err)
	}
	g.io.Env = withoutVar(g.io.Env, asyncEnv)
	fmt.Fprintf(g.io.Stderr, "quire: %s async worker %d: %d run(s)\n", time.Now().UTC().Format(time.RFC3339), os.Getpid(), len(runs))
	r, err := g.openRepo(g.gitDir)
	if err != nil {
		return err
	}
	dataRoot := g.dataRoot(r)
	s, err := openStore(ctx, dataRoot)
	if err != nil {
		return err
	}
	defer s.Close()
	// Take the runs before anything else: the hook that queued them may
	// be gone already, and a reconcile would take them for its orphans.
	host, _ := os.Hostname()
	var mine []asyncRun
	for _, a := range runs {
		if err := s.AdoptRun(ctx, a.RunID, os.Getpid(), host); err != nil {
			fmt.Fprintf(g.io.Stderr, "quire: run %s: %v; skipping it\n", a.RunID, err)
			continue
		}
		mine = append(mine, a)
	}
	rn, err := g.newRunner(ctx, r, s, dataRoot)
	if err != nil {
		// This worker owns the runs: it records why none will run.
		for _, a := range mine {
			_, _ = s.AbortRun(context.WithoutCancel(ctx), a.RunID, "failed", store.FailInternal,
				fmt.Sprintf("set up the background worker: %v", err), time.Now().UnixMilli())
		}
		return err
	}
	sweepQuietly(ctx, s, dataRoot, g.io.Stderr)
	failed := false
	for _, a := range mine {
		row, err := s.GetRun(ctx, a.RunID)
		if err != nil || row.State != "pending" {
			rn.Progress.Failf("run %s is no longer pending (%v); skipping it", a.RunID, err)
			continue
		}
		p, src, ok, err := prepare(r, rn.Progress, row.Repo, request{
			commit: plumbing.NewHash(a.Commit), ref: a.Ref, previous: a.Previous,
			trigger: row.Trigger, options: a.Options, pushedAt: a.PushedAt,
		})
		if err != nil || !ok {
			_, _ = s.AbortRun(context.WithoutCancel(ctx), a.RunID, "failed", store.FailInternal,
				fmt.Sprintf("prepare run: %v", err), time.Now().UnixMilli())
			continue
		}
		res, err := rn.Execute(ctx, rn.Queued(row), p, src)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		g.applyKeepRuns(ctx, rn, row.Repo)
		failed = failed || res.State == "failed"
	}
	if failed {
		return errRunFailed
	}
	return nil
}

func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
