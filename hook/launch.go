package hook

import (
	"context"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/retention"
	"github.com/quire-ci/quire-hook/pkg/runner"
)

// launch runs the pipeline of one commit. ran is false when the commit
// has no pipeline (a line says so).
func (g *globals) launch(ctx context.Context, r *gitrepo.Repo, rn *runner.Runner, repoName string, req runner.Request) (res runner.Result, ran bool, err error) {
	p, src, ok, err := runner.Prepare(r, rn.Progress, repoName, req)
	if err != nil || !ok {
		return res, false, err
	}
	res, err = rn.Run(ctx, p, src)
	if err == nil {
		g.applyKeepRuns(ctx, rn, repoName)
	}
	return res, true, err
}

// applyKeepRuns applies config.lua's keep_runs after a run: the same gc
// as 'quire-hook gc --keep N' for this repository. A failure is reported
// and does not change the run's outcome.
func (g *globals) applyKeepRuns(ctx context.Context, rn *runner.Runner, repoName string) {
	if _, err := retention.Keep(ctx, rn.Store, datadir.Root(rn.DataRoot), g.keepRuns, repoName); err != nil {
		rn.Progress.Failf("warning: keep_runs: %v", err)
	}
}
