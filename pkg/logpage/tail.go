package logpage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

// Tail reads a log of one or more files page by page while they are
// being written, as crilog.Follower reads one file: Next returns the
// lines complete so far and picks up there when called again; files may
// appear later. Lines of different files are merged by time as far as
// that is knowable: a line is returned once it is complete, before
// lines of other files that are not written yet, even if these turn out
// to be older. A Tail is not safe for concurrent use.
type Tail struct {
	src   []*source
	line  int64 // lines returned so far, counting those before the cursor
	ended bool
}

// Follow returns a Tail over files from cursor from. Files are opened
// as Next needs them: one that does not exist yet is read once it does.
func Follow(files []string, from Cursor) (*Tail, error) {
	if err := checkCursor(from, len(files)); err != nil {
		return nil, fmt.Errorf("follow log: %w", err)
	}
	t := &Tail{line: from.Line, src: make([]*source, len(files))}
	for i, path := range files {
		t.src[i] = &source{path: path, off: from.offset(i), clean: true}
	}
	return t, nil
}

// Next returns the lines complete now after those returned before, as
// Read does a page: at most maxLines lines or maxBytes bytes of content
// (values below 1 count as 1), more to end where no line is open. When
// the lines run out while a line is open, the open lines are cut (see
// the package doc), so that Page.Next is always exact. It returns no
// lines when none is complete yet, and Page.EOF once End was called and
// every line returned.
func (t *Tail) Next(maxLines, maxBytes int) (Page, error) {
	maxLines, maxBytes = max(1, maxLines), max(1, maxBytes)
	// Each file is opened, and asked for more after it had nothing, at
	// most once a call: not once a line.
	for _, s := range t.src {
		if err := s.open(t.ended); err != nil {
			return Page{}, err
		}
		s.idle = false
	}
	var p Page
	size := 0
	for {
		full := len(p.Lines) >= maxLines || size >= maxBytes
		if full && t.clean() {
			break
		}
		if len(p.Lines) >= maxLines+overrunLines || size >= maxBytes+overrunBytes {
			break // cut below
		}
		i, err := t.pick()
		if err != nil {
			return Page{}, err
		}
		if i < 0 {
			break
		}
		size += t.emit(&p, i, t.src[i].take())
	}
	for i, s := range t.src {
		if !s.clean {
			for _, e := range s.cut() {
				t.emit(&p, i, e)
			}
		}
	}
	p.Next = t.cursor()
	if t.ended {
		i, err := t.pick()
		if err != nil {
			return Page{}, err
		}
		p.EOF = i < 0
	}
	return p, nil
}

// End says the files are complete: their writers are done. Next then
// reads them to their ends, returns what was left open with Partial set,
// and reports EOF.
func (t *Tail) End() { t.ended = true }

// Close closes the files.
func (t *Tail) Close() error {
	var errs []error
	for _, s := range t.src {
		if s.f != nil {
			errs = append(errs, s.f.Close())
			s.f = nil
		}
	}
	return errors.Join(errs...)
}

// clean reports whether no file has a line open after the lines
// returned, so that the cursor is exact.
func (t *Tail) clean() bool {
	for _, s := range t.src {
		if !s.clean {
			return false
		}
	}
	return true
}

// cursor returns the position after the lines returned.
func (t *Tail) cursor() Cursor {
	c := Cursor{Line: t.line, Offsets: make([]int64, len(t.src))}
	for i, s := range t.src {
		c.Offsets[i] = s.off
	}
	return c
}

// pick returns the index of the file whose next complete line is the
// oldest, the first file on equal times, or -1 if no file has one.
func (t *Tail) pick() (int, error) {
	best := -1
	for i, s := range t.src {
		e, err := s.peek(t.ended)
		if err != nil {
			return -1, err
		}
		if e != nil && (best < 0 || e.Time.Before(t.src[best].next.Time)) {
			best = i
		}
	}
	return best, nil
}

// emit appends e, a line of file i, to p and returns its size.
func (t *Tail) emit(p *Page, i int, e crilog.Entry) int {
	t.line++
	p.Lines = append(p.Lines, Line{
		N: t.line, Time: e.Time, Stream: e.Stream, Source: i,
		Partial: e.Partial, Content: e.Content,
	})
	return len(e.Content)
}

// source is one file of a Tail, with its next line read ahead so that
// files can be merged by time.
type source struct {
	path string
	f    *crilog.Follower // nil until the file exists

	next      *crilog.Entry // the line read ahead, if any
	nextOff   int64         // the resume offset after it, if nextClean
	nextClean bool
	done      bool // the file has ended and every line is taken
	idle      bool // it had no complete line in this call of Next

	off   int64 // the resume offset after the lines taken, if clean
	clean bool  // no line is open after the lines taken
}

// open opens the file if it exists now and is not open yet. Once ended,
// a file that does not exist is done: it is empty.
func (s *source) open(ended bool) error {
	if s.f != nil || s.done {
		return nil
	}
	f, err := crilog.FollowAt(s.path, s.off)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.done = ended
		return nil
	case err != nil:
		return err
	}
	s.f = f
	return nil
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
		s.done = true
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
