// Package logpage reads CRI logs a page at a time for the web UI: one
// sh call's file, or a whole job's files merged by time, from a Cursor
// that a URL can carry, without ever reading more of a file than the
// page needs (a 1 GiB log's first page costs what a small one's does).
// A Tail follows the files of a live run, and WriteText streams a whole
// log as plain text.
//
// The files of a job are given as [job.log, sh-1.log, sh-2.log, ...]:
// lines are merged by time, and on equal times the file given first
// comes first, which is the order `quire-hook logs` prints
// (pkg/report). A file that does not exist is empty (an sh call that has
// not started yet). Everything read is hostile: Content is raw bytes
// (control bytes, invalid UTF-8, markup) for the caller to escape.
//
// A page costs what its lines cost: each file is read from its offset
// in the cursor, and a file is opened only once the time of its next
// record says it has the page's next line, so a page of a job of many sh
// calls opens the few files it shows (and looks at the others' next
// timestamp).
//
// Pages end where reading again from their cursor yields exactly the
// lines not returned yet. Lines are joined per stream, so while a long
// line of one stream is open (see crilog.Follower.Resume) a page runs on
// past its size until no line is open; if that takes more than 1,000
// lines or 4 MiB (only a log built to do it does), the open lines are
// cut there and returned as pieces with
// Partial set, their rest following on the next page, as lines longer
// than 1 MiB always are.
package logpage

import (
	"fmt"
	"time"
)

// How far a page may run past its size to end where no line is open.
const (
	overrunLines = 1000
	overrunBytes = 4 << 20
)

// Line is one line of a log.
type Line struct {
	// N numbers the line from 1 at the start of the log, for #L<n>.
	N int64
	// Time is when the line's first bytes were written.
	Time time.Time
	// Stream is "stdout" or "stderr".
	Stream string
	// Source is the index of the line's file among the files read.
	Source int
	// Partial marks a piece of a line: its stream ended without a
	// newline, or the line is longer than 1 MiB, or a page ended inside
	// it (see the package doc). The rest, if any, is the next line of the
	// same file and stream.
	Partial bool
	// Content is the line without its line ending, raw.
	Content []byte
}

// Page is a run of lines and the cursor of the lines after them.
type Page struct {
	// Lines are the page's lines, merged by time.
	Lines []Line
	// Next is where the next page starts.
	Next Cursor
	// EOF says there is nothing after Lines: the files have ended (Read,
	// or a Tail after End).
	EOF bool
}

// Read returns the page of the log made of files that starts at from:
// at most maxLines lines or maxBytes bytes of content, whichever comes
// first (at least one line, and more to end where no line is open; see
// the package doc). It takes the files as complete: a file's last line
// without its F record is returned with Partial set, and a last record
// cut short by a dying writer is decoded if it can be. For a log still
// being written use Follow and Tail.Next, which stop at what is complete
// so far. Memory and time are those of the page, whatever the size of
// the files and wherever from points.
func Read(files []string, from Cursor, maxLines, maxBytes int, opts ...Option) (Page, error) {
	t, err := Follow(files, from, opts...)
	if err != nil {
		return Page{}, err
	}
	defer t.Close()
	t.End()
	return t.Next(maxLines, maxBytes)
}

// checkCursor checks that from fits a log of nfiles files; ParseCursor
// makes only such cursors.
func checkCursor(from Cursor, nfiles int) error {
	if len(from.Offsets) > nfiles {
		return fmt.Errorf("cursor has %d offsets for a log of %d files", len(from.Offsets), nfiles)
	}
	if from.Line < 0 {
		return fmt.Errorf("cursor has a negative line number %d", from.Line)
	}
	for i, o := range from.Offsets {
		if o < 0 {
			return fmt.Errorf("cursor has a negative offset %d for file %d", o, i)
		}
	}
	return nil
}
