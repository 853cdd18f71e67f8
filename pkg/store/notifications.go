package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// NotificationState is notifications.state: how one delivery ended.
type NotificationState string

// The states of a delivery.
const (
	NotificationDelivered NotificationState = "delivered"
	NotificationFailed    NotificationState = "failed"
)

// Notification is one row of the notifications table: one delivery of a
// run's result to one notify target (SPEC §13). Times are Unix
// milliseconds.
type Notification struct {
	ID           int64  // assigned by AddNotification
	RunID        string //
	Target       string // "email ops@example.com", "webhook https://...", "command /path"
	Event        string // failed, fixed, complete or always
	State        NotificationState
	Attempts     int
	Error        string // "" when delivered
	CreatedAtMS  int64
	FinishedAtMS int64
}

// AddNotification records a delivery that ended and returns its id.
func (s *Store) AddNotification(ctx context.Context, n Notification) (int64, error) {
	var id int64
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		err := exec(conn, `INSERT INTO notifications (run_id, target, event, state, attempts, error,
			created_at_ms, finished_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			n.RunID, n.Target, n.Event, n.State, n.Attempts, nullText(n.Error), n.CreatedAtMS, n.FinishedAtMS)
		id = conn.LastInsertRowID()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record notification of run %s to %s: %w", n.RunID, n.Target, err)
	}
	return id, nil
}

// ListNotifications returns the deliveries of a run, in the order they
// were recorded.
func (s *Store) ListNotifications(ctx context.Context, runID string) ([]Notification, error) {
	var out []Notification
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT id, run_id, target, event, state, attempts, error, created_at_ms, finished_at_ms
			FROM notifications WHERE run_id = ? ORDER BY id`,
			func(stmt *sqlite.Stmt) error {
				out = append(out, Notification{
					ID: stmt.ColumnInt64(0), RunID: stmt.ColumnText(1), Target: stmt.ColumnText(2),
					Event: stmt.ColumnText(3), State: NotificationState(stmt.ColumnText(4)),
					Attempts: stmt.ColumnInt(5), Error: stmt.ColumnText(6),
					CreatedAtMS: stmt.ColumnInt64(7), FinishedAtMS: stmt.ColumnInt64(8),
				})
				return nil
			}, runID)
	})
	if err != nil {
		return nil, fmt.Errorf("list notifications of run %s: %w", runID, err)
	}
	return out, nil
}

// PreviousOutcome returns the run of r's repo and ref that finished last
// before r with an outcome: complete, or failed for any reason but a
// cancel. Superseded and canceled runs said nothing about the code and
// are passed over. ok is false when there is none.
func (s *Store) PreviousOutcome(ctx context.Context, r Run) (prev Run, ok bool, err error) {
	err = s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT `+runColumns+` FROM runs
			WHERE repo = ? AND ref_name = ? AND id <> ?
			  AND (state = 'complete' OR (state = 'failed' AND failure_kind IS NOT 'canceled'))
			  AND (finished_at_ms < ? OR (finished_at_ms = ? AND id < ?))
			ORDER BY finished_at_ms DESC, id DESC LIMIT 1`,
			func(stmt *sqlite.Stmt) error {
				prev, ok = scanRun(stmt), true
				return nil
			}, r.Repo, r.Ref, r.ID, r.FinishedAtMS, r.FinishedAtMS, r.ID)
	})
	if err != nil {
		return Run{}, false, fmt.Errorf("look for the run of %s %s before %s: %w", r.Repo, r.Ref, r.ID, err)
	}
	return prev, ok, nil
}
