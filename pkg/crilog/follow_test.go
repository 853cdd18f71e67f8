package crilog

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// followAll returns the lines f has complete now, up to ErrNotYet or
// io.EOF, which it returns too.
func followAll(tb testing.TB, f *Follower) ([]Entry, error) {
	tb.Helper()
	var out []Entry
	for {
		e, err := f.Next()
		if err != nil {
			if !errors.Is(err, ErrNotYet) && !errors.Is(err, io.EOF) {
				tb.Fatalf("Next: %v", err)
			}
			return out, err
		}
		out = append(out, e)
	}
}

// contents are the lines' contents, "! " before stderr ones and "…"
// after a Partial one.
func contents(es []Entry) []string {
	var out []string
	for _, e := range es {
		s := string(e.Content)
		if e.Stream == Stderr {
			s = "! " + s
		}
		if e.Partial {
			s += "…"
		}
		out = append(out, s)
	}
	return out
}

func TestFollower(t *testing.T) {
	t.Run("WhileWritten", func(t *testing.T) {
		path := logPath(t)
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Follow(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		steps := []struct {
			stream, write string
			want          []string
		}{
			{Stdout, "", nil},
			{Stdout, "one\ntw", []string{"one"}},
			{Stderr, "err\n", []string{"! err"}},
			{Stdout, "o\n", []string{"two"}},
			{Stdout, "three", nil}, // no newline: waits in the Writer
		}
		for _, s := range steps {
			if _, err := w.Stream(s.stream).Write([]byte(s.write)); err != nil {
				t.Fatal(err)
			}
			got, err := followAll(t, f)
			if !errors.Is(err, ErrNotYet) {
				t.Fatalf("after %q: %v, want ErrNotYet", s.write, err)
			}
			if g := contents(got); strings.Join(g, "|") != strings.Join(s.want, "|") {
				t.Errorf("after %q: got %q, want %q", s.write, g, s.want)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, err := followAll(t, f); !errors.Is(err, ErrNotYet) || len(got) != 0 {
			// Closed, the Writer wrote "three" as a P record: not a
			// line until the reader knows the log is complete.
			t.Fatalf("after Close: %q, %v; want nothing until End", contents(got), err)
		}
		f.End()
		got, err := followAll(t, f)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("after End: %v, want io.EOF", err)
		}
		if g := contents(got); len(g) != 1 || g[0] != "three…" {
			t.Errorf("after End: %q, want [three…]", g)
		}
		if _, err := f.Next(); !errors.Is(err, io.EOF) {
			t.Errorf("Next after the end: %v, want io.EOF", err)
		}
	})
	t.Run("RecordWrittenInPieces", func(t *testing.T) {
		path := logPath(t)
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.Line(Stdout, []byte("whole")); err != nil {
			t.Fatal(err)
		}
		rec := buf.Bytes()
		fw, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fw.Close()
		f, err := Follow(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i, b := range rec {
			if _, err := fw.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
			got, err := followAll(t, f)
			if i < len(rec)-1 && (len(got) != 0 || !errors.Is(err, ErrNotYet)) {
				t.Fatalf("after %d of %d bytes: %q, %v", i+1, len(rec), contents(got), err)
			}
			if i == len(rec)-1 && (len(got) != 1 || string(got[0].Content) != "whole") {
				t.Fatalf("after the newline: %q, %v", contents(got), err)
			}
		}
	})
	t.Run("LongLineInPieces", func(t *testing.T) {
		// A line of 2.5 MiB comes back in pieces of followMaxLine, so
		// a follower never holds a whole long line.
		path := logPath(t)
		long := bytes.Repeat([]byte("0123456789abcdef"), (5*followMaxLine/2)/16)
		writeLog(t, path, append(long, '\n'), nil)
		f, err := Follow(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := followAll(t, f)
		if !errors.Is(err, ErrNotYet) {
			t.Fatal(err)
		}
		var joined []byte
		for i, e := range got {
			last := i == len(got)-1
			if e.Partial == last || (!last && len(e.Content) != followMaxLine) {
				t.Errorf("piece %d: %d bytes, partial %v", i, len(e.Content), e.Partial)
			}
			joined = append(joined, e.Content...)
		}
		if len(got) != 3 || !bytes.Equal(joined, long) {
			t.Errorf("%d pieces of %d bytes in all, want 3 of %d", len(got), len(joined), len(long))
		}
	})
	t.Run("CutLastRecord", func(t *testing.T) {
		// A writer killed mid-record leaves a record without its
		// newline: decoded at End if it parses, dropped if not.
		for _, tc := range []struct {
			name, tail string
			atEnd      []string
		}{
			{"Parses", "2026-01-02T03:04:05.000000006Z stderr F last words", []string{"! last words"}},
			{"Garbled", "2026-01-02T03:04", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				path := logPath(t)
				data := "2026-01-02T03:04:05.000000005Z stdout F first\n" + tc.tail
				if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := Follow(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if got, _ := followAll(t, f); len(got) != 1 {
					t.Fatalf("before End: %q, want [first]", contents(got))
				}
				f.End()
				got, err := followAll(t, f)
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				if g := contents(got); strings.Join(g, "|") != strings.Join(tc.atEnd, "|") {
					t.Errorf("after End: %q, want %q", g, tc.atEnd)
				}
			})
		}
	})
	t.Run("UnfinishedInRecordOrder", func(t *testing.T) {
		path := logPath(t)
		data := "2026-01-02T03:04:05.000000001Z stderr P err-\n" +
			"2026-01-02T03:04:05.000000002Z stdout P out-\n" +
			"2026-01-02T03:04:05.000000003Z stdout P more\n"
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Follow(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.End()
		got, err := followAll(t, f)
		if !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if g := strings.Join(contents(got), "|"); g != "! err-…|out-more…" {
			t.Errorf("got %q, want the stderr line (last record first) then stdout", g)
		}
		if got[1].Time.Nanosecond() != 2 {
			t.Errorf("stdout line's time %v, want its first record's", got[1].Time)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		path := logPath(t)
		if _, err := Follow(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Follow of a missing log: %v, want fs.ErrNotExist", err)
		}
		if err := os.WriteFile(path, []byte("2026-01-02T03:04:05Z stdout F ok\nnot a record\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Follow(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Next(); err != nil {
			t.Fatal(err)
		}
		_, err = f.Next()
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "record 2") {
			t.Errorf("malformed record: %v, want an error naming the log and record 2", err)
		}
		big := path + ".big"
		rec := "2026-01-02T03:04:05Z stdout F " + strings.Repeat("x", followMaxRecord) + "\n"
		if err := os.WriteFile(big, []byte(rec), 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := Follow(big)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if _, err := g.Next(); err == nil || !strings.Contains(err.Error(), "longer than") {
			t.Errorf("oversized record: %v, want an error", err)
		}
	})
}
