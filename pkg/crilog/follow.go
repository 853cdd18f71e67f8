package crilog

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Memory bounds of a Follower: a line joined from P records is returned
// in pieces once it holds followMaxLine bytes, and a record (MaxLineChunk
// of content in the files Writer writes) may not exceed followMaxRecord.
// hook/logs.go's help text states them.
const (
	followMaxLine   = 1 << 20
	followMaxRecord = 1 << 20
)

// ErrNotYet is what Follower.Next returns when the next line is not
// completely written yet: call Next again later, or End once the writer
// is known to be done.
var ErrNotYet = errNotYet

// Follower reads a CRI log while it is being written, as `tail -f`
// would: Next returns the lines complete so far, joined from their
// records as Reader joins them, and picks up where it stopped when
// called again. Unlike Reader it does not take the end of the file for
// the end of the log until End is called. It holds at most one line per
// stream and one record in memory: a line longer than 1 MiB is returned
// in pieces of 1 MiB, each but the last with Partial set, and a record
// longer than 1 MiB is an error.
type Follower struct {
	path string
	f    *os.File
	r    *Reader
}

// Follow opens the log at path for following. A log that does not exist
// (yet) is an error wrapping fs.ErrNotExist.
func Follow(path string) (*Follower, error) {
	f, err := OpenLog(path)
	if err != nil {
		return nil, err
	}
	r := NewReader(f)
	r.follow, r.split, r.maxRecord = true, followMaxLine, followMaxRecord
	return &Follower{path: path, f: f, r: r}, nil
}

// Next returns the next whole line. It returns ErrNotYet when no further
// line is complete yet and, after End, io.EOF once every line has been
// returned. After End, a last record cut short by a dying writer is
// decoded if it can be (and dropped if not), and lines whose stream
// ended with P records are returned with Partial set, the one whose last
// record came first first. The returned Content is the caller's to keep.
func (f *Follower) Next() (Entry, error) {
	e, _, err := f.r.next()
	switch {
	case err == nil:
		return e, nil
	case errors.Is(err, errNotYet), errors.Is(err, io.EOF):
		return Entry{}, err
	}
	return Entry{}, fmt.Errorf("read log %s: %w", f.path, err)
}

// End says the log is complete: its writer has closed it, or died. Next
// then reads to the end of the file and reports io.EOF there.
func (f *Follower) End() { f.r.end = true }

// Close closes the file.
func (f *Follower) Close() error { return f.f.Close() }
