package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// GC is what one gc did, or with DryRun would do: the runs its filter
// selected and the leftover run directories (see Leftovers).
type GC struct {
	Filter    store.ExpireFilter
	DryRun    bool
	Deleted   Count
	Leftovers Count
}

// Collect deletes the runs f selects, then the leftovers, then the
// cached workspace trees unused for WorkspaceCacheAge; with dry it
// removes nothing and counts what it would remove.
func Collect(ctx context.Context, s *store.Store, root datadir.Root, f store.ExpireFilter, dry bool, now time.Time) (GC, error) {
	expire, sweep := Expire, Leftovers
	if dry {
		expire, sweep = Expired, FindLeftovers
	}
	g := GC{Filter: f, DryRun: dry}
	var err error
	if g.Deleted, err = expire(ctx, s, root, f); err != nil {
		return g, err
	}
	if g.Leftovers, err = sweep(ctx, s, root, now); err != nil || dry {
		return g, err
	}
	_, err = PruneWorkspaces(root, now)
	return g, err
}

// MarshalJSON writes g as `gc --json` prints it: the selection that
// applied (null where none did) and what was removed.
func (g GC) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Repo             *string   `json:"repo"`
		Keep             *int      `json:"keep"`
		FinishedBeforeMS *int64    `json:"finished_before_ms"`
		DryRun           bool      `json:"dry_run"`
		RunsDeleted      int       `json:"runs_deleted"`
		BytesFreed       int64     `json:"bytes_freed"`
		Deleted          []Removed `json:"deleted"`
		leftoversJSON
	}{nonZero(g.Filter.Repo), nonZero(g.Filter.Keep), nonZero(g.Filter.FinishedBeforeMS), g.DryRun,
		g.Deleted.Runs, g.Deleted.Bytes, append([]Removed{}, g.Deleted.Removed...), newLeftoversJSON(g.Leftovers)})
}

// Reconciled is what one reconcile did: the runs whose hook died, now
// ended (runner.EndOrphans), and the leftover run directories removed.
type Reconciled struct {
	Orphans   []runner.Orphan
	Leftovers Count
}

// Reconcile ends the runs of this host whose hook died and finishes
// what interrupted gcs left; with strays it also removes run
// directories without a row (Leftovers), which looks at every run.
func Reconcile(ctx context.Context, s *store.Store, root datadir.Root, strays bool, now time.Time) (Reconciled, error) {
	var r Reconciled
	var err error
	if r.Orphans, err = runner.EndOrphans(ctx, s, root); err != nil {
		return r, err
	}
	if strays {
		r.Leftovers, err = Leftovers(ctx, s, root, now)
	} else {
		r.Leftovers, err = Sweep(ctx, s, root)
	}
	if err != nil {
		err = fmt.Errorf("reconcile: %w", err)
	}
	return r, err
}

// MarshalJSON writes r as `reconcile --json` prints it.
func (r Reconciled) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RunsOrphaned []runner.Orphan `json:"runs_orphaned"`
		leftoversJSON
	}{append([]runner.Orphan{}, r.Orphans...), newLeftoversJSON(r.Leftovers)})
}

// leftoversJSON is what gc and reconcile print about leftover run
// directories.
type leftoversJSON struct {
	LeftoversRemoved   int       `json:"leftovers_removed"`
	LeftoverBytesFreed int64     `json:"leftover_bytes_freed"`
	Leftovers          []Removed `json:"leftovers"`
}

func newLeftoversJSON(c Count) leftoversJSON {
	return leftoversJSON{c.Runs, c.Bytes, append([]Removed{}, c.Removed...)}
}

// nonZero is v, or nil (JSON null) for v's zero value.
func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// Size renders a byte count for people: 512 B, 1.5 KiB, 3.2 MiB.
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
