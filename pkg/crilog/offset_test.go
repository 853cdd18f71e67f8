package crilog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// interleaved is a log whose lines of both streams are open at once: a
// stdout line in P records around stderr lines, then the reverse, an
// empty line and a stream that ends in P.
const interleaved = "2026-01-01T00:00:00.000000001Z stdout F one\n" +
	"2026-01-01T00:00:00.000000002Z stdout P tw\n" +
	"2026-01-01T00:00:00.000000003Z stderr F <script>alert(1)</script>\n" +
	"2026-01-01T00:00:00.000000004Z stdout P o-\n" +
	"2026-01-01T00:00:00.000000005Z stderr P \"'><img src=x onerror=alert(1)>\n" +
	"2026-01-01T00:00:00.000000006Z stdout F two\n" +
	"2026-01-01T00:00:00.000000007Z stderr F  end\n" +
	"2026-01-01T00:00:00.000000008Z stdout F \n" +
	"2026-01-01T00:00:00.000000009Z stderr F \xff\x00\x1b[31mred\n" +
	"2026-01-01T00:00:00.000000010Z stdout P last\n"

// writeRaw writes data to a fresh log file and returns its path.
func writeRaw(tb testing.TB, data string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "sh-1.log")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// lineAt is a line with the resume offset after it, -1 if none.
type lineAt struct {
	e      Entry
	resume int64
}

// followFrom reads the whole log at path from off, as complete.
func followFrom(tb testing.TB, path string, off int64) []lineAt {
	tb.Helper()
	f, err := FollowAt(path, off)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	f.End()
	var out []lineAt
	for {
		e, err := f.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("Next from %d: %v", off, err)
		}
		r, ok := f.Resume()
		if !ok {
			r = -1
		}
		out = append(out, lineAt{e, r})
	}
}

func entries(ls []lineAt) []Entry {
	out := make([]Entry, len(ls))
	for i, l := range ls {
		out[i] = l.e
	}
	return out
}

func TestFollowAt(t *testing.T) {
	t.Run("ResumeYieldsTheRest", func(t *testing.T) {
		path := writeRaw(t, interleaved)
		all := followFrom(t, path, 0)
		want := []string{"one", "! <script>alert(1)</script>", "two-two", "! \"'><img src=x onerror=alert(1)> end", "", "! \xff\x00\x1b[31mred", "last…"}
		if got := contents(entries(all)); !slices.Equal(got, want) {
			t.Fatalf("lines = %q, want %q", got, want)
		}
		resumable := 0
		for i, l := range all {
			if l.resume < 0 {
				continue
			}
			resumable++
			got := contents(entries(followFrom(t, path, l.resume)))
			if want := contents(entries(all[i+1:])); !slices.Equal(got, want) {
				t.Errorf("from resume %d after line %d: %q, want %q", l.resume, i, got, want)
			}
		}
		// Not after the stderr line nor "two-two": a line of the other
		// stream is open there.
		if resumable != 5 {
			t.Errorf("%d resume points, want 5: %+v", resumable, all)
		}
	})

	t.Run("EveryByteOffset", func(t *testing.T) {
		path := writeRaw(t, interleaved)
		for off := range int64(len(interleaved) + 3) {
			start := min(off, int64(len(interleaved)))
			if start > 0 && interleaved[start-1] != '\n' {
				start += int64(strings.IndexByte(interleaved[start:], '\n') + 1)
			}
			// What the decoder makes of the records from there on.
			want := readerEntries(t, interleaved[start:])
			got := entries(followFrom(t, path, off))
			if !slices.Equal(contents(got), contents(want)) {
				t.Errorf("from %d: %q, want %q", off, contents(got), contents(want))
			}
		}
	})

	t.Run("InsideARecordBeingWritten", func(t *testing.T) {
		// The offset is inside a record whose newline is not written
		// yet: the record is skipped once it is, whatever it holds.
		path := writeRaw(t, "2026-01-01T00:00:00Z stdout F hel")
		f, err := FollowAt(path, 5)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if e, err := f.Next(); !errors.Is(err, ErrNotYet) {
			t.Fatalf("Next = %q, %v; want ErrNotYet", e.Content, err)
		}
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		rest := "lo\n2026-01-01T00:00:01Z stderr F next\n"
		fh.WriteString(rest)
		fh.Close()
		e, err := f.Next()
		if err != nil || string(e.Content) != "next" {
			t.Fatalf("Next = %q, %v; want next", e.Content, err)
		}
		want := int64(len("2026-01-01T00:00:00Z stdout F hel") + len(rest))
		if off, ok := f.Resume(); off != want || !ok {
			t.Fatalf("Resume = %d, %v; want %d, true", off, ok, want)
		}
	})

	t.Run("Negative", func(t *testing.T) {
		if _, err := FollowAt(writeRaw(t, interleaved), -1); err == nil {
			t.Fatal("FollowAt(-1) did not fail")
		}
	})

	t.Run("CutMakesAResumePoint", func(t *testing.T) {
		path := writeRaw(t, interleaved)
		for stop := 1; stop < 7; stop++ {
			f, err := FollowAt(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.End()
			var got []Entry
			for range stop {
				e, err := f.Next()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e)
			}
			got = append(got, f.Cut()...)
			off, ok := f.Resume()
			f.Close()
			if !ok {
				t.Fatalf("after %d lines and Cut: no resume point", stop)
			}
			got = append(got, entries(followFrom(t, path, off))...)
			// Every byte of each stream comes once, in order.
			for _, s := range []string{Stdout, Stderr} {
				if g, w := streamBytes(got, s), streamBytes(entries(followFrom(t, path, 0)), s); g != w {
					t.Errorf("cut after %d lines: %s = %q, want %q", stop, s, g, w)
				}
			}
		}
	})

	t.Run("WhileWritten", func(t *testing.T) {
		path := writeRaw(t, "")
		f, err := FollowAt(path, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		// The record arrives in three writes: no line, and the resume
		// point stays at its start, until its newline is there.
		rec := "2026-01-01T00:00:00Z stdout F hello\n"
		for i, part := range []string{rec[:10], rec[10:30], rec[30:]} {
			if _, err := fh.WriteString(part); err != nil {
				t.Fatal(err)
			}
			e, err := f.Next()
			if i < 2 {
				if !errors.Is(err, ErrNotYet) {
					t.Fatalf("write %d: Next = %q, %v; want ErrNotYet", i, e.Content, err)
				}
				if off, ok := f.Resume(); off != 0 || !ok {
					t.Fatalf("write %d: Resume = %d, %v; want 0, true", i, off, ok)
				}
				continue
			}
			if err != nil || string(e.Content) != "hello" {
				t.Fatalf("Next = %q, %v; want hello", e.Content, err)
			}
			if off, ok := f.Resume(); off != int64(len(rec)) || !ok {
				t.Fatalf("Resume = %d, %v; want %d, true", off, ok, len(rec))
			}
		}
	})
}

// readerEntries decodes data as a Follower does once its log has ended.
func readerEntries(tb testing.TB, data string) []Entry {
	tb.Helper()
	r := NewReader(strings.NewReader(data))
	r.follow, r.end, r.split, r.maxRecord = true, true, followMaxLine, followMaxRecord
	var out []Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, e)
	}
}

// streamBytes joins the contents of the lines of stream, "\n" after
// each line but a piece.
func streamBytes(es []Entry, stream string) string {
	var b bytes.Buffer
	for _, e := range es {
		if e.Stream != stream {
			continue
		}
		b.Write(e.Content)
		if !e.Partial {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
