package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// ListUnfinished returns the runs still pending or active, oldest first:
// the candidates of reconcile.
func (s *Store) ListUnfinished(ctx context.Context) ([]Run, error) {
	runs, err := s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs
		WHERE state IN ('pending', 'active') ORDER BY queued_at_ms, id`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", err)
	}
	return runs, nil
}

// OrphanRun ends a run whose owner process is gone: if the run is still
// pending or active and still owned by pid on host, its pending and
// active jobs become aborted, its running sh calls end at the run's
// finish with exit_code NULL (cut short), and the run failed with
// failure_kind orphaned and errMsg, in one transaction. ok is false, and
// nothing is changed, when the run ended or changed hands in the
// meantime; aborted is the number of jobs aborted.
func (s *Store) OrphanRun(ctx context.Context, id string, pid int, host, errMsg string, atMS int64) (aborted int, ok bool, err error) {
	err = s.do(ctx, func(conn *sqlite.Conn) error {
		return immediate(conn, func() error {
			found := false
			err := execRows(conn, `SELECT 1 FROM runs WHERE id = ? AND state IN ('pending', 'active')
				AND owner_pid = ? AND owner_host = ?`, func(*sqlite.Stmt) error {
				found = true
				return nil
			}, id, pid, host)
			if err != nil || !found {
				return err
			}
			if aborted, err = abortJobs(conn, id, atMS); err != nil {
				return err
			}
			// A run may be finished as late as the clock allows, but
			// never before it was queued or started.
			if err := exec(conn, `UPDATE runs SET state = 'failed', failure_kind = 'orphaned',
				error = ?, container_id = NULL,
				finished_at_ms = max(?, queued_at_ms, coalesce(started_at_ms, 0))
				WHERE id = ?`, nullText(errMsg), atMS, id); err != nil {
				return err
			}
			if err := closeShEvents(conn, id); err != nil {
				return err
			}
			ok = true
			return nil
		})
	})
	if err != nil {
		return 0, false, fmt.Errorf("orphan run %s: %w", id, err)
	}
	return aborted, ok, nil
}

// ExpireFilter selects the finished runs gc deletes. A run is selected
// when it is finished (complete, failed or superseded) and matches every
// set field.
type ExpireFilter struct {
	Repo string // only this repo; "" for every repo
	// Keep spares the Keep newest runs of each repo, whatever their
	// state; 0 spares none.
	Keep int
	// FinishedBeforeMS selects runs finished before this time; 0 selects
	// any finish time.
	FinishedBeforeMS int64
}

// ListExpired returns the finished runs f selects, oldest first. Pending
// and active runs are never returned.
func (s *Store) ListExpired(ctx context.Context, f ExpireFilter) ([]Run, error) {
	inner := `SELECT *, row_number() OVER (PARTITION BY repo
		ORDER BY queued_at_ms DESC, id DESC) AS newest FROM runs`
	var args []any
	if f.Repo != "" {
		inner += ` WHERE repo = ?`
		args = append(args, f.Repo)
	}
	query := `SELECT ` + runColumns + ` FROM (` + inner + `)
		WHERE state NOT IN ('pending', 'active') AND newest > ?`
	args = append(args, max(f.Keep, 0))
	if f.FinishedBeforeMS > 0 {
		query += ` AND finished_at_ms < ?`
		args = append(args, f.FinishedBeforeMS)
	}
	query += ` ORDER BY queued_at_ms, id`
	runs, err := s.queryRuns(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list expired runs: %w", err)
	}
	return runs, nil
}

// RunStates returns the state of every run, by id. gc uses it to tell
// run directories that have a row from those that do not.
func (s *Store) RunStates(ctx context.Context) (map[string]string, error) {
	states := make(map[string]string)
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT id, state FROM runs`, func(stmt *sqlite.Stmt) error {
			states[stmt.ColumnText(0)] = stmt.ColumnText(1)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list run states: %w", err)
	}
	return states, nil
}

// RepoNames returns every distinct runs.repo, sorted: what `--repo`
// may name.
func (s *Store) RepoNames(ctx context.Context) ([]string, error) {
	var names []string
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT DISTINCT repo FROM runs ORDER BY repo`, func(stmt *sqlite.Stmt) error {
			names = append(names, stmt.ColumnText(0))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list repos: %w", err)
	}
	return names, nil
}

// CancelPending records a run that has not started as failed with
// failure_kind canceled and errMsg, if it is still pending; ok is false,
// and nothing changes, when it has started or ended meanwhile.
func (s *Store) CancelPending(ctx context.Context, id, errMsg string, atMS int64) (ok bool, err error) {
	err = s.do(ctx, func(conn *sqlite.Conn) error {
		if err := exec(conn, `UPDATE runs SET state = 'failed', failure_kind = 'canceled',
			error = ?, finished_at_ms = max(?, queued_at_ms)
			WHERE id = ? AND state = 'pending'`, nullText(errMsg), atMS, id); err != nil {
			return err
		}
		ok = conn.Changes() > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cancel run %s: %w", id, err)
	}
	return ok, nil
}
