package crilog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reading from a byte offset, and the offsets to resume at.
//
// A resume offset is the start of a record such that reading again from
// there yields exactly the lines not returned yet. Because lines are
// joined per stream, not every record end is one: after a stderr line
// while a stdout line is open (its P records read, its F record not
// yet), reading again from the end of the stderr line would lose the
// stdout line's first part, and from before the stdout line would repeat
// the stderr line. So a resume offset is only given where no line is
// open (Resume's ok), which is almost everywhere: P records are only
// written for lines longer than MaxLineChunk and for a stream's last
// line. A reader that must stop at a place that is not one calls Cut,
// which returns the open lines as they are, as pieces with Partial set,
// as a Follower returns lines longer than its 1 MiB split; the rest of
// such a line then follows as further lines.

// FollowAt is Follow from byte offset off of the log instead of its
// start. An offset that is not the start of a record (an edited URL, a
// stale cursor) is moved forward to the next record start; one past the
// end of the file is taken as its end.
func FollowAt(path string, off int64) (*Follower, error) {
	if off < 0 {
		return nil, fmt.Errorf("follow log %s: negative offset %d", path, off)
	}
	f, err := OpenLog(path)
	if err != nil {
		return nil, err
	}
	fl, err := followAt(path, f, off)
	if err != nil {
		f.Close()
		return nil, err
	}
	return fl, nil
}

func followAt(path string, f *os.File, off int64) (*Follower, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat log %s: %w", path, err)
	}
	off = min(off, st.Size())
	align := false
	if off > 0 {
		var b [1]byte
		if _, err := f.ReadAt(b[:], off-1); err != nil {
			return nil, fmt.Errorf("read log %s at %d: %w", path, off-1, err)
		}
		align = b[0] != '\n'
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek log %s to %d: %w", path, off, err)
	}
	r := NewReader(f)
	r.follow, r.split, r.maxRecord = true, followMaxLine, followMaxRecord
	r.off, r.align = off, align
	return &Follower{path: path, f: f, r: r}, nil
}

// Resume returns the offset at which FollowAt yields exactly the lines
// Next has not returned yet. ok is false while a line is open (some of
// its records read, its end not yet): there is no such offset then; see
// Cut.
func (f *Follower) Resume() (off int64, ok bool) { return f.r.resume() }

// Cut returns the lines that are open, oldest last record first, each as
// a piece with Partial set, and forgets them: Resume is ok afterwards,
// and the rest of such a line comes as further lines.
func (f *Follower) Cut() []Entry { return f.r.cutOpen() }

// resume is Resume for a Reader.
func (r *Reader) resume() (int64, bool) {
	return r.off, !r.open[0].active && !r.open[1].active
}

// cutOpen is Cut for a Reader.
func (r *Reader) cutOpen() []Entry {
	var out []Entry
	for {
		e, _, err := r.nextUnfinished()
		if err != nil {
			return out
		}
		out = append(out, e)
	}
}

// skipToRecord drops the bytes up to and including the next newline;
// following, what is there of them now, the rest at the next call.
func (r *Reader) skipToRecord() error {
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		switch {
		case err == nil:
			r.align = false
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if r.follow && !r.end {
				return errNotYet
			}
			r.align = false
			return io.EOF
		default:
			return fmt.Errorf("read record %d: %w", r.n+1, err)
		}
	}
}
