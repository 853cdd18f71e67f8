package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/schema"
	"zombiezen.com/go/sqlite"
)

// openTest opens a store on a fresh file in a temp dir.
func openTest(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(context.Background(), filepath.Join(tb.TempDir(), "quire.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// newRun returns a valid pending run queued at queuedMS.
func newRun(id string, queuedMS int64) Run {
	return Run{
		ID:         id,
		Repo:       "foo.git",
		Ref:        "refs/heads/main",
		SHA:        "0123456789abcdef0123456789abcdef01234567",
		Trigger:    "push",
		PushedAtMS: queuedMS,
		QueuedAtMS: queuedMS,
		State:      "pending",
		OwnerPID:   4242,
		OwnerHost:  "ci-host",
	}
}

// mustCreateRun inserts a pending run.
func mustCreateRun(tb testing.TB, s *Store, r Run) {
	tb.Helper()
	if err := s.CreateRun(context.Background(), r); err != nil {
		tb.Fatalf("CreateRun: %v", err)
	}
}

// rawExec runs one SQL statement on the store's connection, bypassing the
// API, so tests can write rows the API would never write.
func rawExec(tb testing.TB, s *Store, query string, args ...any) error {
	tb.Helper()
	return s.do(context.Background(), func(conn *sqlite.Conn) error {
		return exec(conn, query, args...)
	})
}

// row is a set of column values for rawInsert; nil is NULL.
type row map[string]any

// with returns a copy of r with the given columns replaced.
func (r row) with(changes row) row {
	out := row{}
	for k, v := range r {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

// rawInsert inserts r into table with plain SQL.
func rawInsert(tb testing.TB, s *Store, table string, r row) error {
	tb.Helper()
	cols := make([]string, 0, len(r))
	for k := range r {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	args := make([]any, len(cols))
	for i, c := range cols {
		args[i] = r[c]
	}
	query := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table,
		strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	return rawExec(tb, s, query, args...)
}

// queryRows runs a query and renders every value as text, NULL as "NULL".
func queryRows(tb testing.TB, s *Store, query string, args ...any) []map[string]string {
	tb.Helper()
	var rows []map[string]string
	err := s.do(context.Background(), func(conn *sqlite.Conn) error {
		return execRows(conn, query, func(stmt *sqlite.Stmt) error {
			m := map[string]string{}
			for i := range stmt.ColumnCount() {
				v := stmt.ColumnText(i)
				if stmt.ColumnType(i) == sqlite.TypeNull {
					v = "NULL"
				}
				m[stmt.ColumnName(i)] = v
			}
			rows = append(rows, m)
			return nil
		}, args...)
	})
	if err != nil {
		tb.Fatalf("query %q: %v", query, err)
	}
	return rows
}

// count returns SELECT count(*) FROM table.
func count(tb testing.TB, s *Store, table string) int {
	tb.Helper()
	rows := queryRows(tb, s, "SELECT count(*) AS n FROM "+table)
	var n int
	fmt.Sscan(rows[0]["n"], &n)
	return n
}

func intPtr(n int) *int { return &n }

// upgradeFrom makes a database at schema version before holding the rows
// inserts add, then opens it with Open, which migrates it to the newest
// version; it checks user_version and returns the store.
func upgradeFrom(t *testing.T, before int, inserts ...string) *Store {
	t.Helper()
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) <= before {
		t.Fatalf("%d migrations; the upgrade from version %d is missing", len(ms), before)
	}
	path := filepath.Join(t.TempDir(), "quire.db")
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	err = func() error {
		if err := configure(conn); err != nil {
			return err
		}
		if err := migrate(conn, path, ms[:before]); err != nil {
			return err
		}
		for _, q := range inserts {
			if err := exec(conn, q); err != nil {
				return err
			}
		}
		return nil
	}()
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("make a version %d database: %v", before, err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if got := queryRows(t, s, "PRAGMA user_version")[0]["user_version"]; got != strconv.Itoa(len(ms)) {
		t.Errorf("user_version = %s, want %d", got, len(ms))
	}
	return s
}
