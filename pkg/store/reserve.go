package store

import (
	"os"

	"zombiezen.com/go/sqlite"
)

// A full disk must not leave a run half-recorded: the log write that
// fills it fails the job, and the rows that say so must still be
// written. Open keeps a small reserve file beside the database; the
// first write that finds the disk full deletes it and tries again, so
// the records of the run under way can be finished. The next Open puts
// the reserve back once there is room.

// reserveSize is enough for a run's last few rows (WAL frames of 4 KiB
// pages).
const reserveSize = 1 << 20

func reservePath(dbPath string) string { return dbPath + ".reserve" }

// ensureReserve creates the reserve file if it is missing; a full disk
// leaves it missing.
func ensureReserve(dbPath string) {
	path := reservePath(dbPath)
	if fi, err := os.Stat(path); err == nil && fi.Size() == reserveSize {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	// Written, not just truncated: a sparse file would reserve nothing.
	_, err = f.Write(make([]byte, reserveSize))
	if cerr := f.Close(); err != nil || cerr != nil {
		os.Remove(path)
	}
}

// isFull reports whether err is SQLite's "database or disk is full".
func isFull(err error) bool {
	return err != nil && sqlite.ErrCode(err).ToPrimary() == sqlite.ResultFull
}

// releaseReserve deletes the reserve file; it reports whether there was
// one to free.
func releaseReserve(dbPath string) bool {
	return os.Remove(reservePath(dbPath)) == nil
}
