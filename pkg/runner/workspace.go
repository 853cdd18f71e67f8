package runner

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/workspace"
)

// checkout materializes push's commit into ws, reusing the repository's
// cached tree from its previous run when it can (workspace.Cache): the
// cost then grows with the files changed, and the workspace is still an
// exact copy of the commit. The lease, if any, is kept in res for
// dropWorkspace.
func (r *Runner) checkout(ctx context.Context, res *Result, push Push, ws string) error {
	commit := plumbing.NewHash(push.SHA)
	if r.DataRoot == "" {
		_, err := workspace.Materialize(ctx, r.GitDir, commit, ws)
		return err
	}
	c := workspace.Cache{Dir: datadir.Root(r.DataRoot).WorkspaceCache()}
	lease, _, err := c.Checkout(ctx, datadir.WorkspaceCacheKey(push.Repo), r.GitDir, commit, ws)
	res.lease = lease
	return err
}

// dropWorkspace disposes of the run's workspace once its executor
// session is closed (its processes ended): kept for the operator with
// keep_workspace, else given back to the cache for the next run, else
// removed.
func (r *Runner) dropWorkspace(res Result) error {
	ws := datadir.RunDir(res.RunDir).Workspace()
	if r.Settings.KeepWorkspace {
		res.lease.Release()
		return nil
	}
	if res.lease != nil && res.lease.Return() == nil {
		return nil
	}
	return datadir.RemoveAll(ws)
}
