package crilog

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/redact"
)

// flushAt is the buffered output size at which a Write call writes what it
// has so far; while its records stay below it, one Write call makes
// exactly one underlying write.
const flushAt = 256 * 1024

// Writer writes one CRI log file. Lines of its streams are written in
// arrival order; it is safe for concurrent use by one goroutine per
// stream. Errors of the underlying writer are sticky: once a write fails,
// every later call returns that error.
type Writer struct {
	mu      sync.Mutex
	out     io.Writer
	file    *os.File // set by Create: Close closes it
	name    string   // names the log in errors
	now     func() time.Time
	last    int64 // UnixNano of the newest timestamp written
	hdr     []byte
	buf     []byte
	streams [2]assembler
	err     error
	closed  bool

	secrets  *redact.Set       // nil: nothing to redact
	redactor [2]*redact.Stream // per stream, made at its first write
	red      []byte            // redacted bytes of the current Write

	max       int64 // Limit's bound on the file's size; 0: none
	written   int64 // bytes written to out
	truncated bool  // output reached max: the streams' bytes are dropped
	dropped   int64 // stream bytes that never reached the log
}

// Create creates the log file at path, which must not exist yet, and
// returns a Writer for it.
func Create(path string) (*Writer, error) {
	f, err := createFile(path)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", path, err)
	}
	w := NewWriter(f)
	w.file = f
	w.name = path
	return w, nil
}

// createFile creates the file at path, which must not exist, for
// writing. It calls open(2) and os.NewFile rather than os.OpenFile, which
// also tries to add a regular file to the runtime's poller, fails, and
// sets and clears O_NONBLOCK around it: 4 system calls less for each sh
// call's log.
func createFile(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// NewWriter returns a Writer that writes records to w. Close does not
// close w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{out: w, name: "log", now: time.Now}
}

// Redact makes the Writer replace the secrets of set with "{{ name }}"
// before anything is written. A stream's bytes pass through a
// redact.Stream in front of the place where lines are cut, so a secret
// is found however the pipe split it, also inside lines longer than
// MaxLineChunk; it holds back at most the longest secret's length, until
// the next Write or Close. A stream takes the secrets set holds at its
// first Write; Line redacts with those set holds at each call. Call
// Redact before the first write.
func (w *Writer) Redact(set *redact.Set) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets = set
}

// Limit bounds the log at max bytes (0: no bound). Records of the
// streams are written while they fit; from the first that does not,
// what the streams receive is counted and dropped (their Writes still
// succeed, so the process writing is never blocked), and Close ends the
// log with one stderr line saying how many bytes were dropped. Lines
// written with Line are not bounded. Call Limit before the first write.
func (w *Writer) Limit(max int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.max = max
}

// Truncated reports whether output was dropped because of Limit.
func (w *Writer) Truncated() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.truncated
}

// Dropped reports how many bytes the streams received that are not in
// the log because of Limit (secrets counted as redacted); final once
// Close has returned.
func (w *Writer) Dropped() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Stream returns the io.Writer for stream "stdout" or "stderr"; writes to
// any other name fail. Each Write call is one read of the stream's pipe:
// its timestamp is taken once, at the call, and the complete lines it
// delivers are written at once, in one underlying write (several only
// when its records pass 256 KiB), so `tail -f` sees them. A line still
// open at the end of the call waits, at most MaxLineChunk bytes of it,
// until its newline arrives or the line proves longer than MaxLineChunk,
// when a P record is written.
func (w *Writer) Stream(name string) io.Writer {
	i, err := streamIndex(name)
	if err != nil {
		return errWriter{err: err}
	}
	return &streamWriter{w: w, i: i}
}

// Line writes content to stream as full lines at the current time: each
// newline in content starts a new line, a final newline does not add an
// empty one, and empty content is one empty line. It is meant for the
// job's own log (q.log, print, errors); a stream written with Line should
// not also get output through Stream, whose unfinished line Line would
// not wait for.
func (w *Writer) Line(stream string, content []byte) error {
	i, err := streamIndex(stream)
	if err != nil {
		return fmt.Errorf("write %s: %w", w.name, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	w.streams[i].received += int64(len(content))
	content = w.secrets.Bytes(content)
	hdr := w.header(i)
	if n := len(content); n > 0 && content[n-1] == '\n' {
		content = content[:n-1]
	}

	// Each line is cut into chunks; the buffer is written out whenever it
	// grows large, so a huge message does not need a huge buffer.
	buf := w.buf[:0]
	for {
		seg, rest, more := bytes.Cut(content, []byte{'\n'})
		if n := len(seg); n > 0 && seg[n-1] == '\r' {
			seg = seg[:n-1]
		}
		for len(seg) > MaxLineChunk {
			buf = appendRecord(buf, hdr, tagPartial, seg[:MaxLineChunk], nil)
			seg = seg[MaxLineChunk:]
			if buf, err = w.flushIfFull(buf); err != nil {
				return err
			}
		}
		buf = appendRecord(buf, hdr, tagFull, seg, nil)
		if !more {
			break
		}
		if buf, err = w.flushIfFull(buf); err != nil {
			return err
		}
		content = rest
	}
	return w.write(buf)
}

// Close writes each stream's pending partial line as a P record, then
// closes the file if the Writer was made by Create. It returns the first
// error the Writer met, if any. Calling it again does nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	for i, r := range w.redactor {
		if r != nil && w.err == nil {
			w.red = r.Flush(w.red[:0])
			if w.truncated {
				w.dropped += int64(len(w.red))
				continue
			}
			_ = w.feed(i, w.header(i), w.red) // sets w.err
		}
	}
	if w.err == nil && w.truncated {
		msg := fmt.Sprintf("quire: log truncated at max_log_bytes (%d bytes): %d bytes of output were dropped", w.max, w.dropped)
		_ = w.write(appendRecord(w.buf[:0], w.header(1), tagFull, []byte(msg), nil)) // sets w.err
	} else if w.err == nil {
		buf := w.buf[:0]
		for i := range w.streams {
			if len(w.streams[i].pending) > 0 {
				buf = w.streams[i].finish(buf, w.header(i))
			}
		}
		_ = w.write(buf) // sets w.err
	}
	w.buf, w.hdr, w.red = nil, nil, nil
	if w.file != nil {
		if err := w.file.Close(); err != nil && w.err == nil {
			w.err = fmt.Errorf("close %s: %w", w.name, err)
		}
	}
	return w.err
}

// Bytes reports how many bytes stream has received, line endings
// included (for sh_events.stdout_bytes and stderr_bytes); 0 for an
// unknown stream.
func (w *Writer) Bytes(stream string) int64 {
	i, err := streamIndex(stream)
	if err != nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.streams[i].received
}

// streamWriter is the io.Writer of one stream of a Writer.
type streamWriter struct {
	w *Writer
	i int
}

// Write implements io.Writer.
func (s *streamWriter) Write(p []byte) (int, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	w.streams[s.i].received += int64(len(p))
	if w.truncated {
		w.dropped += int64(len(p))
		return len(p), nil
	}
	hdr := w.header(s.i)
	data := p
	if w.secrets != nil {
		r := w.redactor[s.i]
		if r == nil {
			r = w.secrets.Stream()
			w.redactor[s.i] = r
		}
		if r.Active() {
			w.red = r.Append(w.red[:0], p)
			data = w.red
		}
	}
	if err := w.feed(s.i, hdr, data); err != nil {
		return 0, err
	}
	return len(p), nil
}

// feed cuts p into records of stream i and writes them. Pieces are
// bounded so that neither a huge p nor a p full of empty lines can grow
// the buffer much beyond flushAt.
func (w *Writer) feed(i int, hdr, p []byte) error {
	if w.max > 0 && w.max-w.written < nearLimit {
		return w.feedNearLimit(i, hdr, p)
	}
	a := &w.streams[i]
	for rest := p; len(rest) > 0; {
		piece := rest[:min(len(rest), flushAt)]
		var n int
		w.buf, n = a.feed(w.buf[:0], hdr, piece, flushAt)
		if err := w.write(w.buf); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// nearLimit is how close to Limit's bound feed switches to
// feedNearLimit: one piece of feed makes less than that.
const nearLimit = 3 * flushAt

// feedNearLimit is feed for a log close to its bound: it cuts p into
// lines (at most MaxLineChunk bytes each) and writes their records
// while they fit. At the first line that does not fit the log is
// truncated: that line, the rest of p and what both streams still hold
// of an unfinished line are counted as dropped.
func (w *Writer) feedNearLimit(i int, hdr, p []byte) error {
	a := &w.streams[i]
	buf := w.buf[:0]
	for rest := p; len(rest) > 0; {
		step := rest[:min(len(rest), MaxLineChunk)]
		if j := bytes.IndexByte(step, '\n'); j >= 0 {
			step = step[:j+1]
		}
		held, mark := len(a.pending), len(buf)
		buf, _ = a.feed(buf, hdr, step, math.MaxInt)
		if w.written+int64(len(buf)) > w.max {
			w.truncated = true
			w.dropped += int64(held + len(rest))
			for j := range w.streams {
				if j != i {
					w.dropped += int64(len(w.streams[j].pending))
				}
			}
			return w.write(buf[:mark])
		}
		rest = rest[len(step):]
		if len(buf) >= flushAt {
			if err := w.write(buf); err != nil {
				return err
			}
			buf = w.buf[:0]
		}
	}
	return w.write(buf)
}

// usable reports why the Writer cannot take more output, if it cannot.
func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("write %s: %w", w.name, os.ErrClosed)
	}
	return nil
}

// header formats the record prefix "<timestamp> <stream> F " for stream i
// at the current time, never earlier than a timestamp already written, so
// that timestamps do not decrease within the file even if the wall clock
// steps back.
func (w *Writer) header(i int) []byte {
	ns := w.now().UnixNano()
	if ns < w.last {
		ns = w.last
	}
	w.last = ns
	w.hdr = time.Unix(0, ns).UTC().AppendFormat(w.hdr[:0], time.RFC3339Nano)
	w.hdr = append(w.hdr, ' ')
	w.hdr = append(w.hdr, streamNames[i]...)
	w.hdr = append(w.hdr, " F "...)
	return w.hdr
}

// flushIfFull writes buf out once it holds flushAt bytes and returns it
// emptied; otherwise it returns buf as it is.
func (w *Writer) flushIfFull(buf []byte) ([]byte, error) {
	if len(buf) < flushAt {
		return buf, nil
	}
	if err := w.write(buf); err != nil {
		return nil, err
	}
	return buf[:0], nil
}

// write writes buf to the underlying writer and makes a failure sticky.
func (w *Writer) write(buf []byte) error {
	w.buf = buf[:0]
	if len(buf) == 0 {
		return nil
	}
	n, err := w.out.Write(buf)
	w.written += int64(n)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		if _, named := err.(*os.PathError); !named {
			w.err = fmt.Errorf("write %s: %w", w.name, err)
		}
		return w.err
	}
	return nil
}

// errWriter is the io.Writer returned for an unknown stream name.
type errWriter struct{ err error }

// Write implements io.Writer by failing.
func (e errWriter) Write([]byte) (int, error) {
	return 0, fmt.Errorf("write log: %w", e.err)
}
