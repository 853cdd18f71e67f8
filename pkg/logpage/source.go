package logpage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

// source is one file of a Tail, with its next line read ahead so that
// files can be merged by time.
type source struct {
	path     string
	openFile func(path string) (*os.File, error)
	f        *crilog.Follower // nil while the file is not open

	// low is the time of the record at off while the file is not open
	// (lazy): a lower bound of its next line's time.
	low  time.Time
	lazy bool

	next      *crilog.Entry // the line read ahead, if any
	nextOff   int64         // the resume offset after it, if nextClean
	nextClean bool
	done      bool // the file has ended and every line is taken
	idle      bool // it had no complete line in this call of Next

	off   int64 // the resume offset after the lines taken, if clean
	clean bool  // no line is open after the lines taken
}

// prepare readies the file for a call of Next. A file not open is
// looked at: if it has bytes after off, the time of the record there
// makes it lazy, to be opened when pick needs it; anything unexpected
// there (an offset inside a record, a malformed timestamp) opens it at
// once, for the reader to deal with. Once ended, a file that does not
// exist or has nothing after off is done.
func (s *source) prepare(ended bool) error {
	s.idle = false
	if s.f != nil || s.done {
		return nil
	}
	s.lazy = false
	f, err := s.openFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.done = ended
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat log %s: %w", s.path, err)
	}
	if st.Size() <= s.off {
		s.done = ended
		return nil
	}
	// The byte before off (a newline) and the record's timestamp.
	at := max(0, s.off-1)
	buf := make([]byte, 48)
	n, err := f.ReadAt(buf, at)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read log %s at %d: %w", s.path, at, err)
	}
	buf = buf[:n]
	if s.off > 0 {
		if len(buf) == 0 || buf[0] != '\n' {
			return s.open(ended)
		}
		buf = buf[1:]
	}
	ts, _, ok := bytes.Cut(buf, []byte{' '})
	if !ok {
		return s.open(ended)
	}
	low, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return s.open(ended)
	}
	s.low, s.lazy = low, true
	return nil
}

// open opens the file at off.
func (s *source) open(ended bool) error {
	s.lazy = false
	file, err := s.openFile(s.path)
	var f *crilog.Follower
	if err == nil {
		f, err = crilog.FollowFile(file, s.off)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.done = ended // removed since prepare looked
		return nil
	case err != nil:
		return err
	}
	s.f = f
	return nil
}

// key returns the time the file's next line is merged by: that of the
// line read ahead, or the lower bound of a lazy file. ok is false if the
// file has no line now.
func (s *source) key(ended bool) (at time.Time, ok bool, err error) {
	if s.lazy {
		return s.low, true, nil
	}
	e, err := s.peek(ended)
	if e == nil || err != nil {
		return time.Time{}, false, err
	}
	return e.Time, true, nil
}

// peek returns the next complete line without taking it, or nil if
// there is none yet (or, ended, none left).
func (s *source) peek(ended bool) (*crilog.Entry, error) {
	if s.next != nil || s.done || s.idle || s.f == nil {
		return s.next, nil
	}
	if ended {
		s.f.End()
	}
	e, err := s.f.Next()
	switch {
	case errors.Is(err, crilog.ErrNotYet):
		s.idle = true
		return nil, nil
	case errors.Is(err, io.EOF):
		// Every line of it is taken: it needs no file any more.
		s.done = true
		s.f.Close()
		s.f = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	s.next = &e
	s.nextOff, s.nextClean = s.f.Resume()
	return s.next, nil
}

// take returns the line peek returned and moves past it.
func (s *source) take() crilog.Entry {
	e := *s.next
	s.next = nil
	s.clean = s.nextClean
	if s.clean {
		s.off = s.nextOff
	}
	return e
}

// cut returns what is left of the lines open after the lines taken: the
// line read ahead, which ends one of them or comes after, and the open
// lines' pieces. The file is clean afterwards.
func (s *source) cut() []crilog.Entry {
	var out []crilog.Entry
	if s.next != nil {
		out = append(out, s.take())
	}
	if s.f != nil {
		out = append(out, s.f.Cut()...)
		s.off, s.clean = s.f.Resume()
	}
	return out
}
