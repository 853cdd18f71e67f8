package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// Outcome is an ended async run whose outcome a push prints (SPEC §13,
// async feedback).
type Outcome struct {
	Run        Run
	FailedJobs []string // the jobs that failed, by job id
}

// MarkAsync records that an async post-receive queued run id for the
// background worker (runs.async = 1): once it has ended, the next push
// to its repo that is async too prints its outcome (ReportOutcomes).
func (s *Store) MarkAsync(ctx context.Context, id string) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		if err := exec(conn, `UPDATE runs SET async = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		if conn.Changes() == 0 {
			return fmt.Errorf("no run %s", id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark run %s async: %w", id, err)
	}
	return nil
}

// unreported matches the ended async runs of a repo that no push has
// printed yet.
const unreported = ` WHERE repo = ? AND async = 1 AND reported_at_ms IS NULL
	AND state IN ('complete', 'failed', 'superseded')`

// ReportOutcomes hands print the ended async runs of repo whose outcome
// no push has printed yet: the newest limit of them, oldest first, and
// how many older ones it left out (more). Once print returns nil, all of
// them, those left out too, are marked printed (runs.reported_at_ms =
// atMS) in the write transaction that selected them, so two pushes at
// once never both print a run. When print fails, or the process dies
// before the commit, none is marked and the next push prints them: an
// outcome may then show twice, but is never lost. print is not called
// when there is nothing to report; it must not use the store.
func (s *Store) ReportOutcomes(ctx context.Context, repo string, limit int, atMS int64, print func(outcomes []Outcome, more int) error) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return immediate(conn, func() error {
			var outcomes []Outcome
			err := execRows(conn, `SELECT `+runColumns+` FROM runs`+unreported+` ORDER BY finished_at_ms DESC, id DESC LIMIT ?`,
				func(stmt *sqlite.Stmt) error {
					outcomes = append(outcomes, Outcome{Run: scanRun(stmt)})
					return nil
				}, repo, limit)
			if err != nil || len(outcomes) == 0 {
				return err
			}
			total := 0
			err = execRows(conn, `SELECT count(*) FROM runs`+unreported, func(stmt *sqlite.Stmt) error {
				total = stmt.ColumnInt(0)
				return nil
			}, repo)
			if err != nil {
				return err
			}
			for i := range outcomes {
				o := &outcomes[i]
				err := execRows(conn, `SELECT job_id FROM jobs WHERE run_id = ? AND state = 'failed' ORDER BY finished_at_ms, job_id`,
					func(stmt *sqlite.Stmt) error {
						o.FailedJobs = append(o.FailedJobs, stmt.ColumnText(0))
						return nil
					}, o.Run.ID)
				if err != nil {
					return err
				}
			}
			for i, j := 0, len(outcomes)-1; i < j; i, j = i+1, j-1 {
				outcomes[i], outcomes[j] = outcomes[j], outcomes[i]
			}
			if err := print(outcomes, total-len(outcomes)); err != nil {
				return err
			}
			return exec(conn, `UPDATE runs SET reported_at_ms = ?`+unreported, atMS, repo)
		})
	})
	if err != nil {
		return fmt.Errorf("report the outcomes of async runs of %s: %w", repo, err)
	}
	return nil
}
