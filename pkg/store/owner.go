package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// AdoptRun makes pid on host the owner of a pending run: the process
// that will execute it (an async hook hands its runs to a background
// process). Reconcile judges a run by its owner, so the background
// process adopts its runs before it does anything else.
func (s *Store) AdoptRun(ctx context.Context, id string, pid int, host string) error {
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		if err := exec(conn, `UPDATE runs SET owner_pid = ?, owner_host = ? WHERE id = ? AND state = 'pending'`,
			pid, host, id); err != nil {
			return err
		}
		return explainRun(conn, id, "pending")
	})
	if err != nil {
		return fmt.Errorf("hand run %s to process %d: %w", id, pid, err)
	}
	return nil
}

// HandOver makes pid to the owner of a pending run that pid from on host
// still owns, and reports whether it did. It changes nothing when the
// run has been adopted by its new owner already, or has ended: the hook
// that queued an async run hands it to the worker it started, which may
// have taken it, or even run it, first.
func (s *Store) HandOver(ctx context.Context, id string, from, to int, host string) (bool, error) {
	var changed bool
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		err := exec(conn, `UPDATE runs SET owner_pid = ? WHERE id = ? AND state = 'pending'
			AND owner_pid = ? AND owner_host = ?`, to, id, from, host)
		changed = conn.Changes() > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("hand run %s to process %d: %w", id, to, err)
	}
	return changed, nil
}
