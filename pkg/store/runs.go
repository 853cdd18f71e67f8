package store

import (
	"context"
	"fmt"
	"strings"

	"zombiezen.com/go/sqlite"
)

// Run is one row of the runs table. Times are Unix milliseconds; 0 means
// NULL. Empty strings of nullable TEXT columns mean NULL.
type Run struct {
	ID      string // a UUIDv7
	Repo    string // runs.repo: the bare repo's path under the repos root, else its base name (own data root), else its absolute path
	Ref     string // runs.ref_name
	SHA     string
	Trigger string // "push" or "replay"

	PushedAtMS   int64
	QueuedAtMS   int64
	StartedAtMS  int64
	FinishedAtMS int64

	State       RunState
	FailureKind FailureKind // "" unless failed or superseded
	Error       string

	ContainerID   string
	ImageTag      string
	WorkspacePath string

	OwnerPID  int    // the process running the run, for reconcile
	OwnerHost string // the host of OwnerPID

	Pusher  string // who pushed (or replayed); "" for rows made before schema version 5
	Author  string // the commit's author, "Name <email>"
	Subject string // the first line of the commit's message
}

// RunFilter selects runs for ListRuns. Zero fields match everything.
type RunFilter struct {
	Repo  string
	Ref   string
	State RunState
	Limit int // 0: no limit
	// Before, when its ID is set, selects only the runs listed after it
	// (older: queued earlier, or at the same millisecond with a smaller
	// id), for paging by cursor.
	Before RunCursor
}

// RunCursor is a run's place in the newest-first order of ListRuns.
type RunCursor struct {
	QueuedAtMS int64
	ID         string
}

// Cursor is r's place in the order of ListRuns.
func (r Run) Cursor() RunCursor { return RunCursor{QueuedAtMS: r.QueuedAtMS, ID: r.ID} }

const runColumns = `id, repo, ref_name, sha, trigger, pushed_at_ms, queued_at_ms,
	started_at_ms, finished_at_ms, state, failure_kind, error, container_id,
	image_tag, workspace_path, owner_pid, owner_host, pusher, author, subject`

func scanRun(stmt *sqlite.Stmt) Run {
	return Run{
		ID:            stmt.ColumnText(0),
		Repo:          stmt.ColumnText(1),
		Ref:           stmt.ColumnText(2),
		SHA:           stmt.ColumnText(3),
		Trigger:       stmt.ColumnText(4),
		PushedAtMS:    stmt.ColumnInt64(5),
		QueuedAtMS:    stmt.ColumnInt64(6),
		StartedAtMS:   stmt.ColumnInt64(7),
		FinishedAtMS:  stmt.ColumnInt64(8),
		State:         RunState(stmt.ColumnText(9)),
		FailureKind:   FailureKind(stmt.ColumnText(10)),
		Error:         stmt.ColumnText(11),
		ContainerID:   stmt.ColumnText(12),
		ImageTag:      stmt.ColumnText(13),
		WorkspacePath: stmt.ColumnText(14),
		OwnerPID:      stmt.ColumnInt(15),
		OwnerHost:     stmt.ColumnText(16),
		Pusher:        stmt.ColumnText(17),
		Author:        stmt.ColumnText(18),
		Subject:       stmt.ColumnText(19),
	}
}

// CreateRun inserts r. Its state is normally "pending".
func (s *Store) CreateRun(ctx context.Context, r Run) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return exec(conn, `INSERT INTO runs (`+runColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Repo, r.Ref, r.SHA, r.Trigger, r.PushedAtMS, r.QueuedAtMS,
			nullInt(r.StartedAtMS), nullInt(r.FinishedAtMS), r.State,
			nullText(string(r.FailureKind)), nullText(r.Error), nullText(r.ContainerID),
			nullText(r.ImageTag), nullText(r.WorkspacePath),
			nullInt(int64(r.OwnerPID)), nullText(r.OwnerHost),
			nullText(r.Pusher), nullText(r.Author), nullText(r.Subject))
	})
	if err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	return nil
}

// StartRun moves a pending run to active.
func (s *Store) StartRun(ctx context.Context, id string, atMS int64, workspacePath string) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		err := exec(conn, `UPDATE runs SET state = 'active', started_at_ms = ?, workspace_path = ?
			WHERE id = ? AND state = 'pending'`, atMS, nullText(workspacePath), id)
		if err != nil {
			return err
		}
		return explainRun(conn, id, "pending")
	})
	if err != nil {
		return fmt.Errorf("start run %s: %w", id, err)
	}
	return nil
}

// FinishRun moves a pending or active run to state (complete, failed or
// superseded) and clears its container id. failureKind and errMsg may be
// "".
func (s *Store) FinishRun(ctx context.Context, id string, state RunState, failureKind FailureKind, errMsg string, atMS int64) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return finishRun(conn, id, state, failureKind, errMsg, atMS)
	})
	if err != nil {
		return fmt.Errorf("finish run %s as %s: %w", id, state, err)
	}
	return nil
}

func finishRun(conn *sqlite.Conn, id string, state RunState, failureKind FailureKind, errMsg string, atMS int64) error {
	switch state {
	case RunComplete, RunFailed, RunSuperseded:
	default:
		return fmt.Errorf("%q is not a final run state", state)
	}
	err := exec(conn, `UPDATE runs SET state = ?, failure_kind = ?, error = ?,
		finished_at_ms = ?, container_id = NULL
		WHERE id = ? AND state IN ('pending', 'active')`,
		state, nullText(string(failureKind)), nullText(errMsg), atMS, id)
	if err != nil {
		return err
	}
	return explainRun(conn, id, "pending or active")
}

// AbortRun ends a run that will not go on: every pending or active job
// of it becomes aborted and the run becomes state (failed or superseded),
// in one transaction. It returns the number of jobs aborted. reconcile
// and supersede use it.
func (s *Store) AbortRun(ctx context.Context, id string, state RunState, failureKind FailureKind, errMsg string, atMS int64) (int, error) {
	var n int
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return immediate(conn, func() error {
			var err error
			if n, err = abortJobs(conn, id, atMS); err != nil {
				return err
			}
			return finishRun(conn, id, state, failureKind, errMsg, atMS)
		})
	})
	if err != nil {
		return 0, fmt.Errorf("abort run %s as %s: %w", id, state, err)
	}
	return n, nil
}

// SetRunContainer records the container of an active run.
func (s *Store) SetRunContainer(ctx context.Context, id, containerID, imageTag string) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		err := exec(conn, `UPDATE runs SET container_id = ?, image_tag = ?
			WHERE id = ? AND state = 'active'`, nullText(containerID), nullText(imageTag), id)
		if err != nil {
			return err
		}
		return explainRun(conn, id, "active")
	})
	if err != nil {
		return fmt.Errorf("set container of run %s: %w", id, err)
	}
	return nil
}

// DeleteRun deletes a run; its jobs and sh_events go with it.
func (s *Store) DeleteRun(ctx context.Context, id string) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		if err := exec(conn, `DELETE FROM runs WHERE id = ?`, id); err != nil {
			return err
		}
		if conn.Changes() == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete run %s: %w", id, err)
	}
	return nil
}

// explainRun turns a guarded UPDATE that changed nothing into an error
// saying why: the run is missing, or not in the wanted state.
func explainRun(conn *sqlite.Conn, id, want string) error {
	if conn.Changes() > 0 {
		return nil
	}
	state := ""
	err := execRows(conn, `SELECT state FROM runs WHERE id = ?`, func(stmt *sqlite.Stmt) error {
		state = stmt.ColumnText(0)
		return nil
	}, id)
	if err != nil {
		return err
	}
	if state == "" {
		return ErrNotFound
	}
	return fmt.Errorf("not %s (state %s)", want, state)
}

// GetRun returns the run with this id, or the only run whose id starts
// with idOrPrefix if that is at least 4 characters long.
func (s *Store) GetRun(ctx context.Context, idOrPrefix string) (Run, error) {
	var runs []Run
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		collect := func(stmt *sqlite.Stmt) error {
			runs = append(runs, scanRun(stmt))
			return nil
		}
		err := execRows(conn, `SELECT `+runColumns+` FROM runs WHERE id = ?`, collect, idOrPrefix)
		if err != nil || len(runs) > 0 || len(idOrPrefix) < minPrefix {
			return err
		}
		// Six rows are enough to list five candidates and say "and more".
		return execRows(conn, `SELECT `+runColumns+` FROM runs
			WHERE id >= ? AND id < ? ORDER BY id LIMIT 6`,
			collect, idOrPrefix, prefixEnd(idOrPrefix))
	})
	switch {
	case err != nil:
		return Run{}, fmt.Errorf("get run %s: %w", idOrPrefix, err)
	case len(runs) == 1:
		return runs[0], nil
	case len(runs) == 0 && len(idOrPrefix) < minPrefix:
		return Run{}, fmt.Errorf("get run %s: %w (a prefix needs at least %d characters)", idOrPrefix, ErrNotFound, minPrefix)
	case len(runs) == 0:
		return Run{}, fmt.Errorf("get run %s: %w", idOrPrefix, ErrNotFound)
	}
	ids := make([]string, 0, len(runs))
	for i, r := range runs {
		if i == 5 {
			ids = append(ids, "...")
			break
		}
		ids = append(ids, r.ID)
	}
	return Run{}, fmt.Errorf("get run %s: %w, matches %s", idOrPrefix, ErrAmbiguous, strings.Join(ids, ", "))
}

// minPrefix is the shortest run id prefix GetRun accepts (SPEC section 2).
const minPrefix = 4

// prefixEnd returns the smallest string greater than every string that
// starts with p, for an index range scan. A p ending in 0xff bytes has
// none; "\xff\xff..." past any text is close enough there.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return p + "\xff"
}

// ListRuns returns the runs matching f, newest first.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ column, value string }{
		{"repo", f.Repo}, {"ref_name", f.Ref}, {"state", string(f.State)},
	} {
		if c.value != "" {
			where = append(where, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	if f.Before.ID != "" {
		where = append(where, "(queued_at_ms, id) < (?, ?)")
		args = append(args, f.Before.QueuedAtMS, f.Before.ID)
	}
	query := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY queued_at_ms DESC, id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	runs, err := s.queryRuns(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// queryRuns runs a query that selects runColumns and scans every row.
func (s *Store) queryRuns(ctx context.Context, query string, args ...any) ([]Run, error) {
	var runs []Run
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, query, func(stmt *sqlite.Stmt) error {
			runs = append(runs, scanRun(stmt))
			return nil
		}, args...)
	})
	return runs, err
}
