package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Tail returns the last n lines of the log at path, both streams, joined
// from their records as Reader does, in the order their last record
// appears in the file; a line left unfinished by its stream counts where
// its last record is. Each line's content is cut to at most maxLineBytes
// (no cut when maxLineBytes <= 0). Tail reads backwards from the end to
// find where those lines start, so its time depends on n and the length
// of those lines, not on the file's size, and its memory is bounded by
// about n*maxLineBytes.
func Tail(path string, n, maxLineBytes int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	f, err := OpenLog(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat log %s: %w", path, err)
	}
	start, err := tailStart(f, st.Size(), n)
	if err != nil {
		return nil, fmt.Errorf("tail log %s: %w", path, err)
	}
	lines, err := lastLines(io.NewSectionReader(f, start, st.Size()-start), n, maxLineBytes)
	if err != nil {
		return nil, fmt.Errorf("tail log %s: %w", path, err)
	}
	return lines, nil
}

// numbered is a line with the number of its last record.
type numbered struct {
	e    Entry
	last int64
}

// lastLines reads all of r and keeps the last n lines, ordered by their
// last record.
func lastLines(r io.Reader, n, maxLineBytes int) ([]Entry, error) {
	rd := NewReader(r)
	rd.limit = maxLineBytes
	ring := make([]numbered, 0, min(n, 1024))
	next := 0
	var unfinished []numbered
	for {
		e, last, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case e.Partial:
			unfinished = append(unfinished, numbered{e, last})
		case len(ring) < n:
			ring = append(ring, numbered{e, last})
		default:
			ring[next] = numbered{e, last}
			next = (next + 1) % n
		}
	}

	// Complete lines come from the ring oldest first; the at most two
	// unfinished ones are merged in by the number of their last record.
	all := make([]numbered, 0, len(ring)+len(unfinished))
	all = append(all, ring[next:]...)
	all = append(all, ring[:next]...)
	for _, u := range unfinished {
		i := len(all)
		for i > 0 && all[i-1].last > u.last {
			i--
		}
		all = append(all, numbered{})
		copy(all[i+1:], all[i:])
		all[i] = u
	}
	all = all[max(0, len(all)-n):]
	out := make([]Entry, len(all))
	for i, x := range all {
		out[i] = x.e
	}
	return out, nil
}

// tailStart returns an offset of a record start such that the records
// from there to the end hold every record of the last n lines. Walking
// back from the end it counts lines by their last record (an F record,
// or the latest record of a stream that ended in P) until it has n, then
// goes on until each stream seen has an F record before them, which ends
// the line before the first of them.
func tailStart(f io.ReaderAt, size int64, n int) (int64, error) {
	b, err := newBackLines(f, size)
	if err != nil {
		return 0, err
	}
	var seen, open [2]bool
	count := 0
	hdr := make([]byte, 128)
	for {
		start, end, ok, err := b.prev()
		if err != nil || !ok {
			return 0, err
		}
		h := hdr[:min(int64(len(hdr)), end-start)]
		if _, err := f.ReadAt(h, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read record at %d: %w", start, err)
		}
		_, s, partial, _, err := splitRecord(h)
		if err != nil {
			return 0, fmt.Errorf("parse record at %d: %w", start, err)
		}
		if count < n {
			if !partial || !seen[s] {
				count++
			}
			seen[s] = true
			if count == n {
				open = seen
			}
			continue
		}
		if !partial {
			open[s] = false
		}
		if !open[0] && !open[1] {
			return start, nil
		}
	}
}

// backLines walks the records of a file from the last to the first.
type backLines struct {
	f   io.ReaderAt
	blk []byte
	off int64 // file offset of blk[0]
	end int64 // end of the next record to return, without its newline
	eof bool  // no record left
}

// backBlock is how much of the file a backward walk reads at a time.
const backBlock = 64 * 1024

// newBackLines starts a backward walk over a file of size bytes. The
// file's final newline ends its last record rather than starting an
// empty one.
func newBackLines(f io.ReaderAt, size int64) (*backLines, error) {
	b := &backLines{f: f, end: size, eof: size == 0}
	if size > 0 {
		i, err := b.lastNewline(size)
		if err != nil {
			return nil, err
		}
		if i == size-1 {
			b.end = i
		}
	}
	return b, nil
}

// prev returns the offsets of the previous record, from its first byte to
// its newline; ok is false once the start of the file is passed.
func (b *backLines) prev() (start, end int64, ok bool, err error) {
	if b.eof {
		return 0, 0, false, nil
	}
	i, err := b.lastNewline(b.end)
	if err != nil {
		return 0, 0, false, err
	}
	start, end = i+1, b.end
	b.end = i
	b.eof = i < 0
	return start, end, true, nil
}

// lastNewline returns the offset of the last newline before pos, or -1.
func (b *backLines) lastNewline(pos int64) (int64, error) {
	for pos > 0 {
		if pos <= b.off || pos > b.off+int64(len(b.blk)) {
			lo := max(0, pos-backBlock)
			if b.blk == nil {
				b.blk = make([]byte, backBlock)
			}
			b.blk = b.blk[:pos-lo]
			if _, err := b.f.ReadAt(b.blk, lo); err != nil && !errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("read at %d: %w", lo, err)
			}
			b.off = lo
		}
		if i := bytes.LastIndexByte(b.blk[:pos-b.off], '\n'); i >= 0 {
			return b.off + int64(i), nil
		}
		pos = b.off
	}
	return -1, nil
}
