package runner

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/workspace"
)

// checkout materializes push's commit into ws, reusing the repository's
// cached tree from its previous run when it can (workspace.Cache): the
// cost then grows with the files changed, and the workspace is still an
// exact copy of the commit. Where the hook may mount, ws is an overlay
// of the cached tree while the jobs run; with keep_workspace it is a
// plain directory, which the operator finds after the run. The lease,
// if any, is kept in res for dropWorkspace.
func (r *Runner) checkout(ctx context.Context, res *Result, push Push, ws string) error {
	commit := plumbing.NewHash(push.SHA)
	if r.DataRoot == "" {
		_, err := workspace.Materialize(ctx, r.GitDir, commit, ws)
		return err
	}
	// The workspace is a plain directory (no overlay) for keep_workspace,
	// which the operator must find after the run, and for the docker
	// executor: the engine resolves the bind of the workspace in its own
	// mount namespace, and a hook whose namespace is not the engine's (a
	// hardened service unit, a remote or rootless engine) would hand it
	// the empty directory under the overlay.
	noOverlay := r.Settings.KeepWorkspace || r.Executor != nil && r.Executor.Name() == "docker"
	c := workspace.Cache{Dir: datadir.Root(r.DataRoot).WorkspaceCache(), NoOverlay: noOverlay}
	lease, _, err := c.Checkout(ctx, datadir.WorkspaceCacheKey(push.Repo), r.GitDir, commit, ws)
	res.lease = lease
	return err
}

// dropWorkspace disposes of the run's workspace once its executor
// session is closed (its processes ended): kept for the operator with
// keep_workspace, else given back to the cache for the next run when the
// session vouches that none of its processes lives on (contained), else
// removed (an overlay's cached tree stays in the cache: Release detaches
// the mount, and nothing the run does can write to that tree).
func (r *Runner) dropWorkspace(res Result) error {
	ws := datadir.RunDir(res.RunDir).Workspace()
	if r.Settings.KeepWorkspace {
		res.lease.Release()
		return nil
	}
	if res.lease != nil && contained(res.session) && res.lease.Return() == nil {
		return nil
	}
	res.lease.Release()
	return datadir.RemoveDetached(ws)
}

// contained reports whether no process of the run's session can still
// be alive: none was opened (no job ran), or it was closed and
// implements executor.Contained and says so. A process left running
// would otherwise hold the tree (its cwd, open files) while the next run
// verifies and then uses it.
func contained(o *openSession) bool {
	if o == nil {
		return true
	}
	c, ok := o.s.(executor.Contained)
	return ok && c.Contained()
}
