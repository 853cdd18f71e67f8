package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// Job is one row of the jobs table. Times are Unix milliseconds; 0 means
// NULL.
type Job struct {
	RunID string
	JobID string
	State JobState

	ExitCode     *int // nil: NULL
	StartedAtMS  int64
	FinishedAtMS int64

	Error   string
	Outputs string // JSON text, or "" for NULL
}

// ShEvent is one row of the sh_events table: one sh call, recorded when
// it starts and completed when it ends.
type ShEvent struct {
	RunID string
	JobID string
	Seq   int // the n of jobs/<job-id>/sh-<n>.log, from 1

	StartedAtMS  int64
	FinishedAtMS int64 // 0: NULL, the call is running
	// ExitCode is the exit status; it means nothing when NoExit.
	ExitCode int
	// NoExit is set when exit_code is NULL: the call is running
	// (FinishedAtMS is 0), or its hook died during it and reconcile
	// ended the row with the run (FinishedAtMS is set).
	NoExit bool
	Cmd    string

	StdoutBytes int64
	StderrBytes int64
	// LogTruncated is set when the call's log reached max_log_bytes and
	// the rest of its output was dropped (sh_events.log_truncated).
	LogTruncated bool
}

// StartJob inserts a job of the run in state active.
func (s *Store) StartJob(ctx context.Context, runID, jobID string, atMS int64) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return exec(conn, `INSERT INTO jobs (run_id, job_id, state, started_at_ms)
			VALUES (?, ?, 'active', ?)`, runID, jobID, atMS)
	})
	if err != nil {
		return fmt.Errorf("start job %s of run %s: %w", jobID, runID, err)
	}
	return nil
}

// SkipJob inserts a job of the run that will not run, in state skipped,
// with reason as its error.
func (s *Store) SkipJob(ctx context.Context, runID, jobID, reason string, atMS int64) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return exec(conn, `INSERT INTO jobs (run_id, job_id, state, finished_at_ms, error)
			VALUES (?, ?, 'skipped', ?, ?)`, runID, jobID, atMS, nullText(reason))
	})
	if err != nil {
		return fmt.Errorf("skip job %s of run %s: %w", jobID, runID, err)
	}
	return nil
}

// FinishJob moves an active job to state (complete or failed). exitCode
// may be nil, errMsg and outputs "" (outputs is JSON text).
func (s *Store) FinishJob(ctx context.Context, runID, jobID string, state JobState, exitCode *int, errMsg, outputs string, atMS int64) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		if state != JobComplete && state != JobFailed {
			return fmt.Errorf("%q is not a final job state", state)
		}
		var code any
		if exitCode != nil {
			code = *exitCode
		}
		err := exec(conn, `UPDATE jobs SET state = ?, exit_code = ?, error = ?, outputs = ?,
			finished_at_ms = ?
			WHERE run_id = ? AND job_id = ? AND state = 'active'`,
			state, code, nullText(errMsg), nullText(outputs), atMS, runID, jobID)
		if err != nil {
			return err
		}
		if conn.Changes() > 0 {
			return nil
		}
		current := ""
		err = execRows(conn, `SELECT state FROM jobs WHERE run_id = ? AND job_id = ?`,
			func(stmt *sqlite.Stmt) error {
				current = stmt.ColumnText(0)
				return nil
			}, runID, jobID)
		switch {
		case err != nil:
			return err
		case current == "":
			return ErrNotFound
		default:
			return fmt.Errorf("not active (state %s)", current)
		}
	})
	if err != nil {
		return fmt.Errorf("finish job %s of run %s as %s: %w", jobID, runID, state, err)
	}
	return nil
}

// abortJobs moves every pending or active job of the run to aborted and
// returns how many there were.
func abortJobs(conn *sqlite.Conn, runID string, atMS int64) (int, error) {
	err := exec(conn, `UPDATE jobs SET state = 'aborted', finished_at_ms = ?
		WHERE run_id = ? AND state IN ('pending', 'active')`, atMS, runID)
	if err != nil {
		return 0, err
	}
	return conn.Changes(), nil
}

// StartShEvent records an sh call as it starts: e's run, job, seq,
// start and cmd, with finished_at_ms and exit_code NULL. A call is
// recorded before its process starts, so that the call running when the
// hook dies has its row.
func (s *Store) StartShEvent(ctx context.Context, e ShEvent) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return startShEvent(conn, e)
	})
	if err != nil {
		return fmt.Errorf("start sh event %d of job %s of run %s: %w", e.Seq, e.JobID, e.RunID, err)
	}
	return nil
}

// FinishShEvent records how a started sh call ended: e's finish, exit
// code and byte counts go to the row of e's run, job and seq, which must
// still be running.
func (s *Store) FinishShEvent(ctx context.Context, e ShEvent) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return finishShEvent(conn, e)
	})
	if err != nil {
		return fmt.Errorf("finish sh event %d of job %s of run %s: %w", e.Seq, e.JobID, e.RunID, err)
	}
	return nil
}

// AddShEvent records an sh call that has ended, in one transaction: what
// StartShEvent and then FinishShEvent record.
func (s *Store) AddShEvent(ctx context.Context, e ShEvent) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return immediate(conn, func() error {
			if err := startShEvent(conn, e); err != nil {
				return err
			}
			return finishShEvent(conn, e)
		})
	})
	if err != nil {
		return fmt.Errorf("add sh event %d of job %s of run %s: %w", e.Seq, e.JobID, e.RunID, err)
	}
	return nil
}

func startShEvent(conn *sqlite.Conn, e ShEvent) error {
	return exec(conn, `INSERT INTO sh_events (run_id, job_id, seq, started_at_ms, cmd)
		VALUES (?, ?, ?, ?, ?)`, e.RunID, e.JobID, e.Seq, e.StartedAtMS, e.Cmd)
}

// finishShEvent ends a running call. log_truncated is only ever set:
// SetShEventLogTruncated may have set it before.
func finishShEvent(conn *sqlite.Conn, e ShEvent) error {
	err := exec(conn, `UPDATE sh_events SET finished_at_ms = ?, exit_code = ?,
		stdout_bytes = ?, stderr_bytes = ?, log_truncated = max(log_truncated, ?)
		WHERE run_id = ? AND job_id = ? AND seq = ? AND finished_at_ms IS NULL`,
		e.FinishedAtMS, e.ExitCode, e.StdoutBytes, e.StderrBytes, boolInt(e.LogTruncated), e.RunID, e.JobID, e.Seq)
	if err != nil {
		return err
	}
	if conn.Changes() > 0 {
		return nil
	}
	found := false
	err = execRows(conn, `SELECT 1 FROM sh_events WHERE run_id = ? AND job_id = ? AND seq = ?`,
		func(*sqlite.Stmt) error {
			found = true
			return nil
		}, e.RunID, e.JobID, e.Seq)
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("%w (it was never started)", ErrNotFound)
	default:
		return fmt.Errorf("the call has ended already")
	}
}

// SetShEventLogTruncated records that the log of an sh call reached
// max_log_bytes: sh_events.log_truncated becomes 1.
func (s *Store) SetShEventLogTruncated(ctx context.Context, runID, jobID string, seq int) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		err := exec(conn, `UPDATE sh_events SET log_truncated = 1
			WHERE run_id = ? AND job_id = ? AND seq = ?`, runID, jobID, seq)
		if err == nil && conn.Changes() == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mark log of sh event %d of job %s of run %s truncated: %w", seq, jobID, runID, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// closeShEvents ends the calls of the run that are still running at the
// run's finish, their exit_code left NULL: they were cut short. A
// finish before a call's start (a clock that went back) becomes the
// start.
func closeShEvents(conn *sqlite.Conn, runID string) error {
	return exec(conn, `UPDATE sh_events
		SET finished_at_ms = max(started_at_ms, (SELECT finished_at_ms FROM runs WHERE id = ?))
		WHERE run_id = ? AND finished_at_ms IS NULL`, runID, runID)
}

// ListJobs returns the jobs of the run in the order they were recorded.
func (s *Store) ListJobs(ctx context.Context, runID string) ([]Job, error) {
	var jobs []Job
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT run_id, job_id, state, exit_code, started_at_ms,
			finished_at_ms, error, outputs
			FROM jobs WHERE run_id = ? ORDER BY rowid`,
			func(stmt *sqlite.Stmt) error {
				j := Job{
					RunID:        stmt.ColumnText(0),
					JobID:        stmt.ColumnText(1),
					State:        JobState(stmt.ColumnText(2)),
					StartedAtMS:  stmt.ColumnInt64(4),
					FinishedAtMS: stmt.ColumnInt64(5),
					Error:        stmt.ColumnText(6),
					Outputs:      stmt.ColumnText(7),
				}
				if !stmt.ColumnIsNull(3) {
					code := stmt.ColumnInt(3)
					j.ExitCode = &code
				}
				jobs = append(jobs, j)
				return nil
			}, runID)
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs of run %s: %w", runID, err)
	}
	return jobs, nil
}

// ListShEvents returns the sh calls of the run, grouped by job in the
// order the jobs were recorded, each job's calls by seq.
func (s *Store) ListShEvents(ctx context.Context, runID string) ([]ShEvent, error) {
	var events []ShEvent
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT `+prefixed("e.", shEventColumns)+`
			FROM sh_events e JOIN jobs j ON j.run_id = e.run_id AND j.job_id = e.job_id
			WHERE e.run_id = ? ORDER BY j.rowid, e.seq`,
			func(stmt *sqlite.Stmt) error {
				events = append(events, scanShEvent(stmt))
				return nil
			}, runID)
	})
	if err != nil {
		return nil, fmt.Errorf("list sh events of run %s: %w", runID, err)
	}
	return events, nil
}

// shEventColumns are the columns scanShEvent reads, in its order.
const shEventColumns = `run_id, job_id, seq, started_at_ms, finished_at_ms, exit_code, cmd,
	stdout_bytes, stderr_bytes, log_truncated`

// scanShEvent reads a row of shEventColumns.
func scanShEvent(stmt *sqlite.Stmt) ShEvent {
	return ShEvent{
		RunID:        stmt.ColumnText(0),
		JobID:        stmt.ColumnText(1),
		Seq:          stmt.ColumnInt(2),
		StartedAtMS:  stmt.ColumnInt64(3),
		FinishedAtMS: stmt.ColumnInt64(4),
		ExitCode:     stmt.ColumnInt(5),
		NoExit:       stmt.ColumnIsNull(5),
		Cmd:          stmt.ColumnText(6),
		StdoutBytes:  stmt.ColumnInt64(7),
		StderrBytes:  stmt.ColumnInt64(8),
		LogTruncated: stmt.ColumnInt(9) != 0,
	}
}
