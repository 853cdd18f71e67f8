package store

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
)

// NewerPush returns the id of the newest run triggered by a push to the
// same repo and ref that was queued after r, or "" when there is none.
// A newer push supersedes r (SPEC 5).
func (s *Store) NewerPush(ctx context.Context, r Run) (string, error) {
	var id string
	err := s.do(ctx, func(conn *sqlite.Conn) error {
		return execRows(conn, `SELECT id FROM runs
			WHERE repo = ? AND ref_name = ? AND trigger = 'push'
			  AND (queued_at_ms > ? OR (queued_at_ms = ? AND id > ?))
			ORDER BY queued_at_ms DESC, id DESC LIMIT 1`,
			func(stmt *sqlite.Stmt) error {
				id = stmt.ColumnText(0)
				return nil
			}, r.Repo, r.Ref, r.QueuedAtMS, r.QueuedAtMS, r.ID)
	})
	if err != nil {
		return "", fmt.Errorf("look for pushes newer than run %s: %w", r.ID, err)
	}
	return id, nil
}
