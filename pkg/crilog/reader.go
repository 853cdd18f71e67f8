package crilog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"
)

// Reader decodes a CRI log and joins P records back into whole lines. It
// joins per stream, as containerd and the kubelet do: a P record from
// stdout followed by an F record from stderr are two different lines.
//
// Reader is the package's one record decoder: Tail and Follower set the
// unexported fields below to bound its memory and to read a log that is
// still being written.
type Reader struct {
	br *bufio.Reader
	// limit, when positive, caps the content kept per line; the rest is
	// read and dropped, which bounds memory for Tail.
	limit int
	// split, when positive, returns a line as soon as it holds split
	// bytes, as a line with Partial set, the rest following as further
	// lines: this bounds memory for Follower without losing bytes.
	split int
	// maxRecord, when positive, makes a longer record an error.
	maxRecord int
	// follow makes the end of the input a pause rather than the end of
	// the log (errNotYet), until end is set.
	follow, end bool

	raw   []byte
	carry bool  // raw holds the start of a record whose newline is not written yet
	cut   bool  // the record last read had no newline
	n     int64 // records read so far
	open  [2]openLine
	eof   bool

	// off is the offset of the next record's start: the start offset
	// plus the bytes of every record consumed whole (offset.go).
	off int64
	// recLen counts the bytes of the record being read, carried or not.
	recLen int64
	// align makes the next read skip to a record start first: reading
	// began at an offset inside a record (offset.go).
	align bool
}

// errNotYet is what a following Reader returns when no whole line has
// been written yet.
var errNotYet = errors.New("no whole line written yet")

// openLine is a line whose P records have been read but not its end.
type openLine struct {
	active  bool
	time    time.Time
	content []byte
	last    int64 // number of the line's latest record
}

// NewReader returns a Reader that decodes records from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64*1024)}
}

// Next returns the next whole line. Lines come in the order their last
// record appears in the log; lines whose stream ended with P records (no
// newline came) are returned at the end with Partial set. Next returns
// io.EOF after the last line, and an error naming the record's number for
// a malformed record. The returned Content is the caller's to keep.
func (r *Reader) Next() (Entry, error) {
	e, _, err := r.next()
	return e, err
}

// next is Next that also reports the number of the line's last record.
func (r *Reader) next() (Entry, int64, error) {
	for !r.eof {
		line, err := r.readRecord()
		if errors.Is(err, io.EOF) {
			r.eof = true
			break
		}
		if err != nil {
			return Entry{}, 0, err
		}
		e, err := ParseLine(line)
		if err != nil {
			if r.follow && r.cut {
				continue // a record cut short by a dying writer is noise
			}
			return Entry{}, 0, fmt.Errorf("parse record %d: %w", r.n, err)
		}
		i, _ := streamIndex(e.Stream)
		o := &r.open[i]
		if e.Partial {
			if !o.active {
				*o = openLine{active: true, time: e.Time}
			}
			o.content = r.appendLimited(o.content, e.Content)
			o.last = r.n
			if r.split <= 0 || len(o.content) < r.split {
				continue
			}
			e.Time, e.Content = o.time, o.content
			*o = openLine{}
			return e, r.n, nil
		}
		if o.active {
			e.Time = o.time
		}
		e.Content = r.appendLimited(o.content, e.Content)
		if e.Content == nil {
			e.Content = []byte{}
		}
		*o = openLine{}
		return e, r.n, nil
	}
	return r.nextUnfinished()
}

// nextUnfinished returns, once the log has ended, the lines that never
// got their F record, oldest last record first.
func (r *Reader) nextUnfinished() (Entry, int64, error) {
	i := -1
	for j := range r.open {
		if r.open[j].active && (i < 0 || r.open[j].last < r.open[i].last) {
			i = j
		}
	}
	if i < 0 {
		return Entry{}, 0, io.EOF
	}
	o := r.open[i]
	r.open[i] = openLine{}
	if o.content == nil {
		o.content = []byte{}
	}
	return Entry{Time: o.time, Stream: streamNames[i], Partial: true, Content: o.content}, o.last, nil
}

// appendLimited appends src to dst, keeping dst within the limit.
func (r *Reader) appendLimited(dst, src []byte) []byte {
	if r.limit > 0 {
		src = src[:min(len(src), max(0, r.limit-len(dst)))]
	}
	return append(dst, src...)
}

// readRecord reads one record without its newline; a last record with no
// newline is returned too, once the log has ended. With a limit, the
// bytes of a record beyond what a line may keep are dropped as they are
// read. Following, a record whose newline is not written yet is kept
// for the next call, which picks up where the file stopped.
func (r *Reader) readRecord() ([]byte, error) {
	if !r.carry {
		r.raw = r.raw[:0]
		r.recLen = 0
	}
	if r.align {
		if err := r.skipToRecord(); err != nil {
			return nil, err
		}
	}
	r.carry, r.cut = false, false
	keep := -1
	if r.limit > 0 {
		keep = r.limit + 256 // room for the record's header
	}
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.recLen += int64(len(chunk))
		if err == nil {
			chunk = chunk[:len(chunk)-1]
		}
		if keep >= 0 {
			chunk = chunk[:min(len(chunk), max(0, keep-len(r.raw)))]
		}
		// bufio reuses its buffer on the next read: raw is a copy.
		r.raw = append(r.raw, chunk...)
		if r.maxRecord > 0 && len(r.raw) > r.maxRecord {
			return nil, fmt.Errorf("record %d is longer than %d bytes", r.n+1, r.maxRecord)
		}
		switch {
		case err == nil:
			r.n++
			r.off += r.recLen
			return r.raw, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if r.follow && !r.end {
				r.carry = true
				return nil, errNotYet
			}
			if len(r.raw) == 0 {
				return nil, io.EOF
			}
			r.n++
			r.cut = true
			r.off += r.recLen
			return r.raw, nil
		default:
			return nil, fmt.Errorf("read record %d: %w", r.n+1, err)
		}
	}
}
