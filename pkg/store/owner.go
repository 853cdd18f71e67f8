package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// AdoptRun makes pid on host the owner of a pending run: the process
// that will execute it (an async hook hands its runs to a background
// process). Reconcile judges a run by its owner, so the hand-over must be
// recorded before the hook that queued the run exits.
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
