// Package store records runs, jobs and sh calls in quire-hook's SQLite
// database. It is the only package that talks to SQLite.
//
// Many hook processes may write one database at once (pushes to several
// refs, several repos sharing a data root). The database is in WAL mode,
// every write either is one statement or runs in a BEGIN IMMEDIATE
// transaction, and a connection waits up to 30 s for a lock, so writers
// queue rather than fail with "database is locked".
package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/quire-ci/quire-hook/schema"
)

// busyTimeout bounds how long one store operation, including waiting for
// another process's write lock, may take. SPEC section 6 asks for >= 10 s.
const busyTimeout = 30 * time.Second

// ErrNotFound is wrapped by lookups and updates whose run or job does not
// exist.
var ErrNotFound = errors.New("not found")

// ErrAmbiguous is wrapped by GetRun when a prefix matches several runs.
var ErrAmbiguous = errors.New("ambiguous run id prefix")

// SchemaVersionError is returned by Open for a database written by a newer
// quire-hook, whose schema this binary does not know.
type SchemaVersionError struct {
	Path    string // the database file
	Version int    // the database's user_version
	Known   int    // the newest version this binary knows
}

// Error tells the operator what to do.
func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database %s has schema version %d, newer than this quire-hook (%d); upgrade quire-hook", e.Path, e.Version, e.Known)
}

// Store is an open quire-hook database. It is safe for concurrent use by
// several goroutines: operations take turns on one connection.
type Store struct {
	path string

	mu   sync.Mutex
	conn *sqlite.Conn // nil once closed
}

// Open opens the database at path, creating the file (not its directory)
// if needed, and brings its schema up to date. Migrations run in one
// IMMEDIATE transaction, so processes opening a fresh file at once apply
// them exactly once between them.
func Open(ctx context.Context, path string) (*Store, error) {
	migrations, err := schema.Migrations()
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// No OpenURI: a path is a path, even with '?' in it.
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{path: path, conn: conn}
	err = s.do(ctx, func(conn *sqlite.Conn) error {
		if err := configure(conn); err != nil {
			return err
		}
		return migrate(conn, path, migrations)
	})
	if err != nil {
		conn.Close()
		var tooNew *SchemaVersionError
		if errors.As(err, &tooNew) {
			return nil, err
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	ensureReserve(path)
	return s, nil
}

// Close closes the database. Calling it again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// do runs fn on the connection, holding it exclusively. Cancelling ctx, or
// exceeding busyTimeout while waiting for another process's lock,
// interrupts the statement in progress.
func (s *Store) do(ctx context.Context, fn func(conn *sqlite.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return fmt.Errorf("store %s is closed", s.path)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	opCtx, cancel := context.WithTimeout(ctx, busyTimeout)
	defer cancel()
	s.conn.SetInterrupt(opCtx.Done())
	defer s.conn.SetInterrupt(nil)

	err := fn(s.conn)
	if isFull(err) && releaseReserve(s.path) {
		err = fn(s.conn)
	}
	if isFull(err) {
		return fmt.Errorf("%w; free space where %s is, then run 'quire-hook reconcile'", err, s.path)
	}
	// An interrupted lock wait ends in SQLITE_BUSY, a running statement
	// in SQLITE_INTERRUPT.
	code := sqlite.ErrCode(err).ToPrimary()
	if err != nil && opCtx.Err() != nil && (code == sqlite.ResultInterrupt || code == sqlite.ResultBusy) {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		return fmt.Errorf("database busy for more than %s: %w", busyTimeout, err)
	}
	return err
}

// configure sets the per-connection pragmas. synchronous=NORMAL is the
// usual WAL setting: a commit survives a crash of the process, and only a
// power loss can drop the last few; it keeps one sh call's row cheap.
//
// The connection does not checkpoint when it closes: the WAL and its
// index stay, and the next hook appends to them. A checkpoint on close
// costs each hook two fsyncs and, as it deletes the WAL, two more to
// create it again (file and directory), plus the -shm file: most of a
// short run's time on disk (docs/PERFORMANCE.md, P2). What a commit
// survives is unchanged: it is in the WAL, as it was before the close.
// SQLite's automatic checkpoint (every 1000 pages) still bounds the WAL,
// and any connection that closes with checkpoints on (the sqlite3
// shell) folds it into the database.
func configure(conn *sqlite.Conn) error {
	if err := setWAL(conn); err != nil {
		return err
	}
	noCheckpointOnClose(conn)
	// journal_size_limit: a WAL that a large transaction (a migration, a
	// big gc) grew is cut back to 4 MiB when it is next reset, since no
	// close deletes it any more.
	for _, pragma := range []string{"PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL", "PRAGMA journal_size_limit = 4194304"} {
		if err := sqlitex.ExecuteTransient(conn, pragma, nil); err != nil {
			return fmt.Errorf("%s: %w", strings.ToLower(pragma), err)
		}
	}
	return nil
}

// setWAL puts the database in WAL mode. WAL is persistent, so usually
// the file is in it already and reading the mode takes no lock. Switching
// a fresh file needs an exclusive lock, and SQLite answers BUSY at once
// there instead of calling the busy handler, so hooks racing on a new
// database retry until busyTimeout.
func setWAL(conn *sqlite.Conn) error {
	deadline := time.Now().Add(busyTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		mode, err := journalMode(conn, "PRAGMA journal_mode")
		if err == nil && mode != "wal" {
			mode, err = journalMode(conn, "PRAGMA journal_mode = wal")
		}
		switch code := sqlite.ErrCode(err).ToPrimary(); {
		case err == nil && mode == "wal":
			return nil
		case err == nil:
			return fmt.Errorf("set journal mode: got %q, want wal", mode)
		case (code != sqlite.ResultBusy && code != sqlite.ResultLocked) || time.Now().After(deadline):
			return fmt.Errorf("set journal mode: %w", err)
		}
		time.Sleep(delay)
	}
}

// noCheckpointOnClose sets SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE on conn,
// which zombiezen.com/go/sqlite does not expose: it calls
// sqlite3_db_config with the handle the Conn holds. If a new version of
// that package stores its handle differently, nothing is set and closing
// checkpoints as before (TestStore_CloseKeepsWAL says so).
func noCheckpointOnClose(conn *sqlite.Conn) bool {
	v := reflect.ValueOf(conn).Elem()
	tlsField, dbField := v.FieldByName("tls"), v.FieldByName("conn")
	if tlsField.Kind() != reflect.Pointer || tlsField.Type().Elem() != reflect.TypeFor[libc.TLS]() || dbField.Kind() != reflect.Uintptr {
		return false
	}
	tls, db := (*libc.TLS)(tlsField.UnsafePointer()), uintptr(dbField.Uint())
	if tls == nil || db == 0 {
		return false
	}
	args := libc.NewVaList(int32(1), uintptr(0)) // on; no result wanted
	if args == 0 {
		return false
	}
	defer libc.Xfree(tls, args)
	return sqlite3.Xsqlite3_db_config(tls, db, sqlite3.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, args) == sqlite3.SQLITE_OK
}

func journalMode(conn *sqlite.Conn, query string) (string, error) {
	var mode string
	err := sqlitex.ExecuteTransient(conn, query, &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error {
			mode = stmt.ColumnText(0)
			return nil
		},
	})
	return mode, err
}

// migrate applies the migrations the database has not seen yet.
func migrate(conn *sqlite.Conn, path string, migrations []schema.Migration) error {
	known := len(migrations)

	// Check without the write lock first: an up-to-date database, the
	// common case, then never makes hooks queue behind each other.
	version, err := userVersion(conn)
	if err != nil {
		return err
	}
	if version > known {
		return &SchemaVersionError{Path: path, Version: version, Known: known}
	}
	if version == known {
		return nil
	}

	return immediate(conn, func() error {
		// Re-read under the lock: another process may have migrated.
		version, err := userVersion(conn)
		if err != nil {
			return err
		}
		if version > known {
			return &SchemaVersionError{Path: path, Version: version, Known: known}
		}
		for _, m := range migrations[version:] {
			if err := execScript(conn, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
		}
		// PRAGMA takes no parameters; known is an int we computed.
		if err := sqlitex.ExecuteTransient(conn, fmt.Sprintf("PRAGMA user_version = %d", known), nil); err != nil {
			return fmt.Errorf("set user_version %d: %w", known, err)
		}
		return nil
	})
}

func userVersion(conn *sqlite.Conn) (int, error) {
	var v int
	err := sqlitex.ExecuteTransient(conn, "PRAGMA user_version", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error {
			v = stmt.ColumnInt(0)
			return nil
		},
	})
	if err != nil {
		return 0, fmt.Errorf("read user_version: %w", err)
	}
	return v, nil
}

// immediate runs fn in a BEGIN IMMEDIATE transaction: the write lock is
// taken up front, where waiting for it is safe, instead of on the first
// write, where SQLite would have to give up with SQLITE_BUSY.
func immediate(conn *sqlite.Conn, fn func() error) (err error) {
	if err := sqlitex.ExecuteTransient(conn, "BEGIN IMMEDIATE", nil); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err == nil {
			if err = sqlitex.ExecuteTransient(conn, "COMMIT", nil); err == nil {
				return
			}
			err = fmt.Errorf("commit: %w", err)
		}
		if conn.AutocommitEnabled() {
			return // SQLite already rolled back.
		}
		// Roll back even when ctx was cancelled.
		old := conn.SetInterrupt(nil)
		defer conn.SetInterrupt(old)
		if rbErr := sqlitex.ExecuteTransient(conn, "ROLLBACK", nil); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
	}()
	return fn()
}

// execScript runs every statement of a migration file in turn.
func execScript(conn *sqlite.Conn, script string) error {
	for {
		script = skipSpaceAndComments(script)
		if script == "" {
			return nil
		}
		stmt, trailing, err := conn.PrepareTransient(script)
		if err != nil {
			return err
		}
		_, err = stmt.Step()
		if ferr := stmt.Finalize(); err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
		script = script[len(script)-trailing:]
	}
}

// skipSpaceAndComments drops whitespace and SQL comments from the start of
// s. SQLite would prepare a comment-only tail as an empty statement that
// cannot be stepped.
func skipSpaceAndComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f")
		switch {
		case strings.HasPrefix(s, "--"):
			_, rest, ok := strings.Cut(s, "\n")
			if !ok {
				return ""
			}
			s = rest
		case strings.HasPrefix(s, "/*"):
			_, rest, ok := strings.Cut(s[2:], "*/")
			if !ok {
				return ""
			}
			s = rest
		default:
			return s
		}
	}
}

// exec runs one statement with positional arguments.
func exec(conn *sqlite.Conn, query string, args ...any) error {
	return sqlitex.Execute(conn, query, &sqlitex.ExecOptions{Args: args})
}

// execRows runs one query with positional arguments, calling fn per row.
func execRows(conn *sqlite.Conn, query string, fn func(stmt *sqlite.Stmt) error, args ...any) error {
	return sqlitex.Execute(conn, query, &sqlitex.ExecOptions{Args: args, ResultFunc: fn})
}

// nullText binds "" as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt binds 0 as NULL.
func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}
