package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/schema"
)

func TestStore_Open(t *testing.T) {
	migrations, err := schema.Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	known := len(migrations)

	t.Run("Pragmas", func(t *testing.T) {
		s := openTest(t)
		for pragma, want := range map[string]string{
			"journal_mode":       "wal",
			"foreign_keys":       "1",
			"journal_size_limit": "4194304",
			"user_version":       "10",
		} {
			rows := queryRows(t, s, "PRAGMA "+pragma)
			if got := rows[0][pragma]; got != want {
				t.Errorf("PRAGMA %s: got %q, want %q", pragma, got, want)
			}
		}
		if got, want := known, 10; got != want {
			t.Errorf("got %d migrations, want %d (update this test)", got, want)
		}
	})

	t.Run("Idempotent", func(t *testing.T) {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "quire.db")
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("first Open: %v", err)
		}
		mustCreateRun(t, s, newRun("run-1", 1000))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s, err = Open(ctx, path)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer s.Close()
		if _, err := s.GetRun(ctx, "run-1"); err != nil {
			t.Errorf("GetRun after reopen: %v", err)
		}
		if got := queryRows(t, s, "PRAGMA user_version")[0]["user_version"]; got != "10" {
			t.Errorf("user_version: got %s, want 10", got)
		}
	})

	t.Run("NewerSchema", func(t *testing.T) {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "quire.db")
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := rawExec(t, s, "PRAGMA user_version = 999"); err != nil {
			t.Fatalf("set user_version: %v", err)
		}
		s.Close()

		_, err = Open(ctx, path)
		want := "database " + path + " has schema version 999, newer than this quire-hook (10); upgrade quire-hook"
		if err == nil || err.Error() != want {
			t.Fatalf("got error %v, want %q", err, want)
		}
		var tooNew *SchemaVersionError
		if !errors.As(err, &tooNew) || tooNew.Version != 999 || tooNew.Known != known {
			t.Errorf("got %#v, want a *SchemaVersionError{Version: 999, Known: %d}", err, known)
		}
	})

	t.Run("MissingDir", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope", "quire.db")
		_, err := Open(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "open store "+path) {
			t.Fatalf("got error %v, want one naming %s", err, path)
		}
		if _, statErr := os.Stat(filepath.Dir(path)); !os.IsNotExist(statErr) {
			t.Errorf("Open created the parent directory")
		}
	})

	t.Run("NotADatabase", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "quire.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite\n", 100)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "open store "+path) {
			t.Fatalf("got error %v, want one naming %s", err, path)
		}
	})

	t.Run("CloseTwice", func(t *testing.T) {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "quire.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := s.CreateRun(t.Context(), newRun("run-1", 1)); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("CreateRun after Close: got %v, want a closed error", err)
		}
	})
}

func TestStore_Do(t *testing.T) {
	t.Run("Cancelled", func(t *testing.T) {
		s := openTest(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.CreateRun(ctx, newRun("run-1", 1000))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if got := count(t, s, "runs"); got != 0 {
			t.Errorf("got %d runs, want 0", got)
		}
	})

	t.Run("WaitsForLock", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "quire.db")
		holder, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open holder: %v", err)
		}
		defer holder.Close()
		waiter, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open waiter: %v", err)
		}
		defer waiter.Close()

		// holder keeps the write lock until released.
		if err := rawExec(t, holder, "BEGIN IMMEDIATE"); err != nil {
			t.Fatalf("begin: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- waiter.CreateRun(context.Background(), newRun("run-1", 1000)) }()
		select {
		case err := <-done:
			t.Fatalf("CreateRun returned %v while another connection held the lock", err)
		case <-time.After(100 * time.Millisecond):
		}
		if err := rawExec(t, holder, "COMMIT"); err != nil {
			t.Fatalf("commit: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("CreateRun after the lock was released: %v", err)
		}
		if got := count(t, holder, "runs"); got != 1 {
			t.Errorf("got %d runs, want 1", got)
		}
	})

	t.Run("DeadlineWhileWaiting", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "quire.db")
		holder, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open holder: %v", err)
		}
		defer holder.Close()
		waiter, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open waiter: %v", err)
		}
		defer waiter.Close()
		if err := rawExec(t, holder, "BEGIN IMMEDIATE"); err != nil {
			t.Fatalf("begin: %v", err)
		}
		defer rawExec(t, holder, "ROLLBACK")

		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err = waiter.CreateRun(ctx, newRun("run-1", 1000))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "create run run-1") {
			t.Errorf("error %q does not name the run", err)
		}
	})
}

func TestStore_Concurrent(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	mustCreateRun(t, s, newRun("run-1", 1000))
	if err := s.StartRun(ctx, "run-1", 1000, ""); err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job := "job-" + string(rune('a'+w))
			if err := s.StartJob(ctx, "run-1", job, 1000); err != nil {
				errs <- err
				return
			}
			for i := range perWorker {
				e := ShEvent{RunID: "run-1", JobID: job, Seq: i + 1, StartedAtMS: 1000, FinishedAtMS: 1001, Cmd: "true"}
				if err := s.AddShEvent(ctx, e); err != nil {
					errs <- err
				}
				if _, err := s.GetRun(ctx, "run-1"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := count(t, s, "sh_events"), workers*perWorker; got != want {
		t.Errorf("got %d sh_events, want %d", got, want)
	}
}

// TestStore_CloseKeepsWAL checks that closing the last connection leaves
// the WAL in place rather than checkpointing it (no fsync on the way out
// of every hook), and that the next Open sees every commit.
func TestStore_CloseKeepsWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quire.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCreateRun(t, s, newRun("r1", 1))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatalf("the WAL is gone after Close (checkpointed on close): %v", err)
	}
	if fi.Size() == 0 {
		t.Errorf("the WAL is empty after Close: its commits were checkpointed")
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	defer s.Close()
	rows := queryRows(t, s, "SELECT id FROM runs")
	if len(rows) != 1 || rows[0]["id"] != "r1" {
		t.Errorf("after reopening: got %v, want the run r1", rows)
	}
}
