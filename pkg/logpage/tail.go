package logpage

import (
	"errors"
	"fmt"
	"os"
	"time"

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
func Follow(files []string, from Cursor, opts ...Option) (*Tail, error) {
	if err := checkCursor(from, len(files)); err != nil {
		return nil, fmt.Errorf("follow log: %w", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	open := o.open
	if open == nil {
		open = crilog.OpenLog
	}
	t := &Tail{line: from.Line, src: make([]*source, len(files))}
	for i, path := range files {
		t.src[i] = &source{path: path, off: from.offset(i), clean: true, openFile: open}
	}
	return t, nil
}

// Option changes how Read, Follow and WriteText read the files.
type Option func(*options)

type options struct {
	open func(path string) (*os.File, error)
}

// WithOpener makes the files be opened by open instead of
// crilog.OpenLog: the web UI passes crilog.OpenLogBelow, so that no log
// is read through a symbolic link anywhere below its data root.
func WithOpener(open func(path string) (*os.File, error)) Option {
	return func(o *options) { o.open = open }
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
	// Each file is looked at, and asked for more after it had nothing,
	// at most once a call: not once a line.
	for _, s := range t.src {
		if err := s.prepare(t.ended); err != nil {
			return Page{}, err
		}
	}
	defer t.release()
	p := Page{Lines: make([]Line, 0, min(maxLines, 1024))}
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
// oldest, the first file on equal times, or -1 if no file has one. A
// file not opened yet takes part with the time of its next record, a
// lower bound of its next line's (timestamps do not decrease within a
// file), and is opened only when that time is the oldest: a page of a
// job of many sh calls opens the few files it shows.
func (t *Tail) pick() (int, error) {
	for {
		best := -1
		var bestTime time.Time
		for i, s := range t.src {
			at, ok, err := s.key(t.ended)
			if err != nil {
				return -1, err
			}
			if ok && (best < 0 || at.Before(bestTime)) {
				best, bestTime = i, at
			}
		}
		if best < 0 || t.src[best].next != nil {
			return best, nil
		}
		if err := t.src[best].open(t.ended); err != nil {
			return -1, err
		}
	}
}

// release closes the files that have nothing more now and no line open,
// so that a Tail over a job of many sh calls keeps few files open; they
// are opened again once they grow.
func (t *Tail) release() {
	for _, s := range t.src {
		if s.f != nil && s.next == nil && s.idle {
			if off, ok := s.f.Resume(); ok && s.clean && off == s.off {
				s.f.Close()
				s.f = nil
			}
		}
	}
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
