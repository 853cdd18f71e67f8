package hook

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/retention"
	"github.com/quire-ci/quire-hook/pkg/runner"
)

// pipelineFile is where a repository keeps its pipeline.
const pipelineFile = ".quire/ci.lua"

// request is one run to launch.
type request struct {
	commit   plumbing.Hash
	ref      string
	previous string // "" or the zero sha for a new ref
	trigger  string
	options  []string
	pushedAt time.Time // zero: now
	pusher   string    // runs.pusher; "" is NULL
}

// launch runs the pipeline of one commit. ran is false when the commit
// has no pipeline (a line says so).
func (g *globals) launch(ctx context.Context, r *gitrepo.Repo, rn *runner.Runner, repoName string, req request) (res runner.Result, ran bool, err error) {
	p, src, ok, err := prepare(r, rn.Progress, repoName, req)
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

// prepare builds what a run of req needs from the repository: the
// quire/push source and the commit's tree. ok is false when the commit
// has no pipeline (a line says so).
func prepare(r *gitrepo.Repo, prog *runner.Progress, repoName string, req request) (p runner.Push, src fs.FS, ok bool, err error) {
	has, err := r.HasFile(req.commit, pipelineFile)
	if err != nil {
		return p, nil, false, err
	}
	if !has {
		prog.Infof("no %s at %s (%s): nothing to run", pipelineFile, gitrepo.ShortSHA(req.commit.String()), req.ref)
		return p, nil, false, nil
	}
	c, err := r.Commit(req.commit)
	if err != nil {
		return p, nil, false, err
	}
	prev := plumbing.ZeroHash
	if req.previous != "" {
		prev = plumbing.NewHash(req.previous)
	}
	changed, err := r.FilesChanged(req.commit, prev)
	if err != nil {
		return p, nil, false, err
	}
	if src, err = r.TreeFS(req.commit); err != nil {
		return p, nil, false, err
	}
	pushedAt := req.pushedAt
	if pushedAt.IsZero() {
		pushedAt = time.Now()
	}
	return runner.Push{
		Repo:          repoName,
		Ref:           req.ref,
		SHA:           req.commit.String(),
		PreviousSHA:   req.previous,
		Trigger:       req.trigger,
		PushedAt:      pushedAt,
		CommitMessage: strings.TrimRight(c.Message, "\n"),
		Author:        fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		FilesChanged:  changed,
		Options:       req.options,
		Pusher:        req.pusher,
	}, src, true, nil
}
