package retention

import (
	"fmt"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/workspace"
)

// WorkspaceCacheAge is how long a repository's cached workspace tree
// (workspace.Cache) is kept after its last run; gc removes older ones.
const WorkspaceCacheAge = 7 * 24 * time.Hour

// PruneWorkspaces removes the cached workspace trees of root not used
// for WorkspaceCacheAge, and any left half-written; trees held by a
// running run are skipped. It returns how many it removed. The cache is
// derived data: removing a tree only makes the next run of its
// repository materialize in full.
func PruneWorkspaces(root datadir.Root, now time.Time) (int, error) {
	n, err := workspace.Cache{Dir: root.WorkspaceCache()}.Prune(now, WorkspaceCacheAge)
	if err != nil {
		return n, fmt.Errorf("prune workspace cache: %w", err)
	}
	return n, nil
}
