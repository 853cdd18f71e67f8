package hook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

// Bounds of logTail's memory: a line joined from P records is printed
// in pieces of maxLogLine bytes, and a record (16 KiB of content in our
// files) may not exceed maxLogRecord.
const (
	maxLogLine   = 1 << 20
	maxLogRecord = 1 << 20
)

// logLine is a line of a CRI log, joined from its records.
type logLine struct {
	time    time.Time // of its first record
	stderr  bool
	content []byte
}

// logTail reads a CRI log while it is being written: it decodes the
// records complete so far, joins P records into lines per stream as
// crilog.Reader does, and picks up where it stopped when called again.
// Unlike crilog.Reader it does not take the end of the file for the end
// of the log until told so.
type logTail struct {
	path  string
	f     *os.File
	br    *bufio.Reader
	carry []byte // the start of a record whose newline is not written yet
	n     int64  // records decoded
	open  [2]openPart
	ready []logLine // decoded, not yet taken
	ended bool      // the unfinished lines were returned: nothing follows
}

// openPart is a line of one stream whose P records have been read but
// not its end.
type openPart struct {
	active  bool
	time    time.Time
	content []byte
	last    int64 // number of its latest record
}

// openTail opens the log at path for reading, or returns nil if it does
// not exist (yet).
func openTail(path string) (*logTail, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return &logTail{path: path, f: f, br: bufio.NewReaderSize(f, 64<<10)}, nil
}

// close closes the file; a nil logTail is fine.
func (t *logTail) close() {
	if t != nil {
		t.f.Close()
	}
}

// peek returns the next whole line without taking it, or nil when no
// line is complete yet. final says the file is complete: a last record
// without a newline (the writer died) and lines whose stream ended with
// P records are returned too.
func (t *logTail) peek(final bool) (*logLine, error) {
	for len(t.ready) == 0 {
		rec, ok, err := t.readRecord()
		switch {
		case err != nil:
			return nil, err
		case ok:
			if err := t.decode(rec); err != nil {
				return nil, err
			}
		case !final || t.ended:
			return nil, nil
		default:
			t.finish()
		}
	}
	return &t.ready[0], nil
}

// take drops the line peek returned.
func (t *logTail) take() {
	t.ready[0] = logLine{}
	t.ready = t.ready[1:]
}

// readRecord returns the next record without its newline; ok is false
// when no complete record is there yet.
func (t *logTail) readRecord() (rec []byte, ok bool, err error) {
	for {
		chunk, err := t.br.ReadSlice('\n')
		if err == nil {
			rec = chunk[:len(chunk)-1]
			if len(t.carry) > 0 {
				rec = append(t.carry, rec...)
				t.carry = t.carry[:0]
			}
			t.n++
			return rec, true, nil
		}
		// bufio's buffer is reused by the next read: keep a copy.
		t.carry = append(t.carry, chunk...)
		switch {
		case len(t.carry) > maxLogRecord:
			return nil, false, fmt.Errorf("read log %s: record %d is longer than %d bytes", t.path, t.n+1, maxLogRecord)
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil, false, nil
		default:
			return nil, false, fmt.Errorf("read log %s: %w", t.path, err)
		}
	}
}

// decode adds one record to its stream's line, making the line ready
// when it ends or grows past maxLogLine.
func (t *logTail) decode(rec []byte) error {
	e, err := crilog.ParseLine(rec)
	if err != nil {
		return fmt.Errorf("read log %s: record %d: %w", t.path, t.n, err)
	}
	i := 0
	if e.Stream == crilog.Stderr {
		i = 1
	}
	o := &t.open[i]
	if !o.active {
		*o = openPart{active: true, time: e.Time}
	}
	o.content = append(o.content, e.Content...)
	o.last = t.n
	if e.Partial && len(o.content) < maxLogLine {
		return nil
	}
	t.ready = append(t.ready, logLine{time: o.time, stderr: i == 1, content: o.content})
	*o = openPart{}
	return nil
}

// finish ends the log: a last record cut short by a dying writer is
// decoded if it can be, and the lines left open are made ready, the one
// whose last record came first first.
func (t *logTail) finish() {
	t.ended = true
	if len(t.carry) > 0 {
		t.n++
		_ = t.decode(t.carry) // a cut record is noise, not an error
		t.carry = nil
	}
	first := 0
	if t.open[1].active && (!t.open[0].active || t.open[1].last < t.open[0].last) {
		first = 1
	}
	for _, i := range []int{first, 1 - first} {
		if o := t.open[i]; o.active {
			t.ready = append(t.ready, logLine{time: o.time, stderr: i == 1, content: o.content})
			t.open[i] = openPart{}
		}
	}
}
