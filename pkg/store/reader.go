package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/quire-ci/quire-hook/schema"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// OpenReader opens the database at path for reading only, as the web UI
// (quire-hook serve) does beside the hooks that write it: it never
// creates, migrates or writes the file. A database at an older schema
// version than this binary's is refused with what to do, since the
// queries need the newest tables; a newer one is a *SchemaVersionError.
func OpenReader(ctx context.Context, path string) (*Store, error) {
	migrations, err := schema.Migrations()
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{path: path, conn: conn}
	known := len(migrations)
	err = s.do(ctx, func(conn *sqlite.Conn) error {
		if err := sqlitex.ExecuteTransient(conn, "PRAGMA query_only = ON", nil); err != nil {
			return fmt.Errorf("pragma query_only: %w", err)
		}
		version, err := userVersion(conn)
		switch {
		case err != nil:
			return err
		case version > known:
			return &SchemaVersionError{Path: path, Version: version, Known: known}
		case version < known:
			return fmt.Errorf("schema version %d is older than this quire-hook's (%d); any other quire-hook command upgrades it, e.g. quire-hook reconcile with this data root", version, known)
		}
		return nil
	})
	if err != nil {
		conn.Close()
		if _, ok := err.(*SchemaVersionError); ok {
			return nil, err
		}
		if sqlite.ErrCode(err).ToPrimary() == sqlite.ResultCantOpen {
			return nil, fmt.Errorf("open store %s: %w; a reader too needs write access to the directory, for SQLite's quire.db-shm (the database itself is not written)", path, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// PipelineJob is one row of the pipeline_jobs table: a job the run's
// pipeline declared, and its inputs (job ids and sources, as ci.lua gave
// them).
type PipelineJob struct {
	JobID  string
	Inputs []string
}

// RecordPipeline records the jobs the run's pipeline declared, in
// declaration order, in one transaction. The web UI lays the job graph
// out from them before the jobs have rows of their own.
func (s *Store) RecordPipeline(ctx context.Context, runID string, jobs []PipelineJob) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return immediate(conn, func() error {
			for i, j := range jobs {
				inputs := j.Inputs
				if inputs == nil {
					inputs = []string{}
				}
				text, err := json.Marshal(inputs)
				if err != nil {
					return err
				}
				err = exec(conn, `INSERT INTO pipeline_jobs (run_id, job_id, position, inputs)
					VALUES (?, ?, ?, ?)`, runID, j.JobID, i, string(text))
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("record pipeline of run %s: %w", runID, err)
	}
	return nil
}

// ListPipeline returns the jobs the run's pipeline declared, in
// declaration order; none for a run recorded before they were kept, or
// whose pipeline did not load.
func (s *Store) ListPipeline(ctx context.Context, runID string) ([]PipelineJob, error) {
	var jobs []PipelineJob
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT job_id, inputs FROM pipeline_jobs
			WHERE run_id = ? ORDER BY position`, func(stmt *sqlite.Stmt) error {
			j := PipelineJob{JobID: stmt.ColumnText(0)}
			if err := json.Unmarshal([]byte(stmt.ColumnText(1)), &j.Inputs); err != nil {
				return fmt.Errorf("inputs of job %s: %w", j.JobID, err)
			}
			jobs = append(jobs, j)
			return nil
		}, runID)
	})
	if err != nil {
		return nil, fmt.Errorf("list pipeline of run %s: %w", runID, err)
	}
	return jobs, nil
}

// LatestPerRef returns the newest run of every ref of every repo (of
// repo alone unless it is ""), ordered by repo and ref, at most maxRefs
// refs a repo (0: all). It skips through the runs_repo_ref_queued index
// from one (repo, ref) to the next, so it costs a few index seeks per
// ref, however many runs each ref has.
func (s *Store) LatestPerRef(ctx context.Context, repo string, maxRefs int) ([]Run, error) {
	var runs []Run
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		text := func(query string, args ...any) (string, bool, error) {
			var v string
			var ok bool
			err := execRows(conn, query, func(stmt *sqlite.Stmt) error {
				v, ok = stmt.ColumnText(0), !stmt.ColumnIsNull(0)
				return nil
			}, args...)
			return v, ok, err
		}
		cur, ok := repo, repo != ""
		if !ok {
			var err error
			if cur, ok, err = text(`SELECT min(repo) FROM runs`); err != nil || !ok {
				return err
			}
		}
		ref, okRef, n := "", false, 0
		for {
			var err error
			if okRef && maxRefs > 0 && n >= maxRefs {
				okRef = false // enough of this repo: on to the next
			} else if okRef {
				ref, okRef, err = text(`SELECT min(ref_name) FROM runs WHERE repo = ? AND ref_name > ?`, cur, ref)
			} else {
				ref, okRef, err = text(`SELECT min(ref_name) FROM runs WHERE repo = ?`, cur)
			}
			if err != nil {
				return err
			}
			if !okRef {
				if repo != "" {
					return nil
				}
				if cur, ok, err = text(`SELECT min(repo) FROM runs WHERE repo > ?`, cur); err != nil || !ok {
					return err
				}
				n = 0
				continue
			}
			n++
			err = execRows(conn, `SELECT `+runColumns+` FROM runs WHERE repo = ? AND ref_name = ?
				ORDER BY queued_at_ms DESC, id DESC LIMIT 1`, func(stmt *sqlite.Stmt) error {
				runs = append(runs, scanRun(stmt))
				return nil
			}, cur, ref)
			if err != nil {
				return err
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list the latest run of each ref: %w", err)
	}
	return runs, nil
}

// JobRun is one job of a run, with its run: a point of a job's history.
type JobRun struct {
	Run Run
	Job Job
}

// JobHistory returns the job jobID of the newest limit runs of repo that
// recorded it, newest first.
func (s *Store) JobHistory(ctx context.Context, repo, jobID string, limit int) ([]JobRun, error) {
	var out []JobRun
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT `+prefixed("r.", runColumns)+`,
			j.state, j.exit_code, j.started_at_ms, j.finished_at_ms, j.error
			FROM runs r JOIN jobs j ON j.run_id = r.id AND j.job_id = ?
			WHERE r.repo = ? ORDER BY r.queued_at_ms DESC, r.id DESC LIMIT ?`,
			func(stmt *sqlite.Stmt) error {
				r := scanRun(stmt)
				n := runColumnCount
				j := Job{
					RunID: r.ID, JobID: jobID,
					State:        JobState(stmt.ColumnText(n)),
					StartedAtMS:  stmt.ColumnInt64(n + 2),
					FinishedAtMS: stmt.ColumnInt64(n + 3),
					Error:        stmt.ColumnText(n + 4),
				}
				if !stmt.ColumnIsNull(n + 1) {
					code := stmt.ColumnInt(n + 1)
					j.ExitCode = &code
				}
				out = append(out, JobRun{Run: r, Job: j})
				return nil
			}, jobID, repo, limit)
	})
	if err != nil {
		return nil, fmt.Errorf("list the history of job %s of %s: %w", jobID, repo, err)
	}
	return out, nil
}

// runColumnCount is the number of columns in runColumns; the columns a
// query selects after them start at this index.
var runColumnCount = len(strings.Split(runColumns, ","))

// prefixed is the comma-separated columns, each qualified by prefix
// (a table alias and a dot).
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// RunProgress sums up how far the run has got: its state and the
// number and states of its jobs, sh calls and notifications. It changes
// whenever the run's page would, and costs a few index range counts,
// not the rows: a live page asks for it twice a second.
func (s *Store) RunProgress(ctx context.Context, id string) (string, error) {
	var out string
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT r.state || '/' || ifnull(r.finished_at_ms, '') || '/' ||
			(SELECT count(*) || ':' || ifnull(group_concat(job_id || '=' || state, ','), '') FROM jobs WHERE run_id = r.id) || '/' ||
			(SELECT count(*) || ':' || count(finished_at_ms) || ':' || ifnull(sum(log_truncated), 0) FROM sh_events WHERE run_id = r.id) || '/' ||
			(SELECT count(*) FROM notifications WHERE run_id = r.id)
			FROM runs r WHERE r.id = ?`, func(stmt *sqlite.Stmt) error {
			out = stmt.ColumnText(0)
			return nil
		}, id)
	})
	if err != nil {
		return "", fmt.Errorf("read the progress of run %s: %w", id, err)
	}
	if out == "" {
		return "", fmt.Errorf("read the progress of run %s: %w", id, ErrNotFound)
	}
	return out, nil
}

// ListShEventsCapped is ListShEvents keeping, of each job with more than
// keep calls, only the first and the last keep/2: a page shows those,
// and a run of 100,000 sh calls costs no more than one of keep. calls
// holds the number of calls of every job that has any.
func (s *Store) ListShEventsCapped(ctx context.Context, runID string, keep int) (events []ShEvent, calls map[string]int, err error) {
	calls = map[string]int{}
	err = s.do(ctx, func(conn *sqlite.Conn) error {
		var jobs []string
		err := execRows(conn, `SELECT e.job_id, count(*) FROM sh_events e
			JOIN jobs j ON j.run_id = e.run_id AND j.job_id = e.job_id
			WHERE e.run_id = ? GROUP BY e.job_id ORDER BY min(j.rowid)`, func(stmt *sqlite.Stmt) error {
			jobs = append(jobs, stmt.ColumnText(0))
			calls[stmt.ColumnText(0)] = stmt.ColumnInt(1)
			return nil
		}, runID)
		if err != nil {
			return err
		}
		scan := func(stmt *sqlite.Stmt) error {
			events = append(events, scanShEvent(stmt))
			return nil
		}
		for _, job := range jobs {
			head, tail := keep/2, keep-keep/2
			if calls[job] <= keep {
				head, tail = calls[job], 0
			}
			err := execRows(conn, `SELECT `+shEventColumns+` FROM sh_events
				WHERE run_id = ? AND job_id = ? ORDER BY seq LIMIT ?`, scan, runID, job, head)
			if err != nil {
				return err
			}
			if tail == 0 {
				continue
			}
			at := len(events)
			err = execRows(conn, `SELECT `+shEventColumns+` FROM sh_events
				WHERE run_id = ? AND job_id = ? ORDER BY seq DESC LIMIT ?`, scan, runID, job, tail)
			if err != nil {
				return err
			}
			slices.Reverse(events[at:])
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list sh events of run %s: %w", runID, err)
	}
	return events, calls, nil
}
