package crilog

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// countingWriter discards what it is given and counts the calls.
type countingWriter struct {
	calls, largest, total int
}

// Write implements io.Writer.
func (c *countingWriter) Write(p []byte) (int, error) {
	c.calls++
	c.largest = max(c.largest, len(p))
	c.total += len(p)
	return len(p), nil
}

// failingWriter accepts ok bytes and then fails every write.
type failingWriter struct {
	ok    int
	calls int
}

var errBoom = errors.New("boom")

// Write implements io.Writer.
func (f *failingWriter) Write(p []byte) (int, error) {
	f.calls++
	if len(p) <= f.ok {
		f.ok -= len(p)
		return len(p), nil
	}
	n := f.ok
	f.ok = 0
	return n, errBoom
}

var clockBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock returns a clock that gives clockBase plus each of ns in turn.
func fakeClock(ns ...int64) func() time.Time {
	return func() time.Time {
		t := clockBase.Add(time.Duration(ns[0]))
		ns = ns[1:]
		return t
	}
}

func TestWriter_Errors(t *testing.T) {
	t.Run("Sticky", func(t *testing.T) {
		fw := &failingWriter{ok: 10}
		w := NewWriter(fw)
		out := w.Stream(Stdout)
		_, err := out.Write([]byte("first line is long enough\n"))
		if !errors.Is(err, errBoom) {
			t.Fatalf("got %v, want %v", err, errBoom)
		}
		if _, err := out.Write([]byte("x\n")); !errors.Is(err, errBoom) {
			t.Errorf("second write: got %v, want %v", err, errBoom)
		}
		if err := w.Line(Stderr, []byte("x")); !errors.Is(err, errBoom) {
			t.Errorf("line: got %v, want %v", err, errBoom)
		}
		if got, want := fw.calls, 1; got != want {
			t.Errorf("got %d underlying writes, want %d", got, want)
		}
		if err := w.Close(); !errors.Is(err, errBoom) {
			t.Errorf("close: got %v, want %v", err, errBoom)
		}
	})
	t.Run("DiskFull", func(t *testing.T) {
		f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Skipf("no /dev/full: %v", err)
		}
		defer f.Close()
		w := NewWriter(f)
		_, err = w.Stream(Stderr).Write([]byte("out of space\n"))
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("got %v, want %v", err, syscall.ENOSPC)
		}
	})
	t.Run("WriteAfterClose", func(t *testing.T) {
		w, err := Create(logPath(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second close: got %v, want nil", err)
		}
		if _, err := w.Stream(Stdout).Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
			t.Errorf("got %v, want %v", err, os.ErrClosed)
		}
	})
	t.Run("UnknownStream", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if _, err := w.Stream("stdin").Write([]byte("x\n")); err == nil {
			t.Error("got no error for stream stdin")
		}
		if got := w.Bytes("stdin"); got != 0 {
			t.Errorf("got %d bytes for stdin, want 0", got)
		}
		if buf.Len() != 0 {
			t.Errorf("got output %q, want none", buf.String())
		}
	})
}

func TestCreate(t *testing.T) {
	t.Run("Exists", func(t *testing.T) {
		path := logPath(t)
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Create(path)
		if !errors.Is(err, fs.ErrExist) {
			t.Errorf("got %v, want %v", err, fs.ErrExist)
		}
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v does not name %s", err, path)
		}
	})
	t.Run("Mode", func(t *testing.T) {
		path := logPath(t)
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st.Mode().Perm(), os.FileMode(0o644)&^umask(t); got != want {
			t.Errorf("got mode %v, want %v", got, want)
		}
	})
}

// umask returns the process umask.
func umask(tb testing.TB) os.FileMode {
	tb.Helper()
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

func TestWriter_Bytes(t *testing.T) {
	w := NewWriter(&bytes.Buffer{})
	writeCut(t, w.Stream(Stdout), []byte("ab\r\ncd"), []int{1})
	writeCut(t, w.Stream(Stderr), []byte("\n\n"), nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Bytes(Stdout), int64(6); got != want {
		t.Errorf("stdout: got %d, want %d", got, want)
	}
	if got, want := w.Bytes(Stderr), int64(2); got != want {
		t.Errorf("stderr: got %d, want %d", got, want)
	}
}

func TestWriter_BoundedMemory(t *testing.T) {
	const total = 1 << 20
	tests := []struct {
		name  string
		chunk []byte
	}{
		{"NoNewline", bytes.Repeat([]byte("n"), 64<<10)},
		{"EmptyLines", bytes.Repeat([]byte("\n"), 64<<10)},
		{"ShortLines", bytes.Repeat([]byte("0123456789\n"), 6000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out countingWriter
			w := NewWriter(&out)
			s := w.Stream(Stdout)
			writes := 0
			for n := 0; n < total; n += len(tt.chunk) {
				if _, err := s.Write(tt.chunk); err != nil {
					t.Fatal(err)
				}
				writes++
			}
			big := bytes.Repeat(tt.chunk, 16) // one Write of 1 MiB
			if _, err := s.Write(big); err != nil {
				t.Fatal(err)
			}
			if got, limit := cap(w.buf), 2*flushAt+2*MaxLineChunk; got > limit {
				t.Errorf("buffer grew to %d bytes, want at most %d", got, limit)
			}
			if got, limit := cap(w.streams[0].pending), MaxLineChunk+1; got > limit {
				t.Errorf("pending grew to %d bytes, want at most %d", got, limit)
			}
			if got, limit := out.largest, 2*flushAt+2*MaxLineChunk; got > limit {
				t.Errorf("got a write of %d bytes, want at most %d", got, limit)
			}
			if out.calls < writes {
				t.Errorf("got %d underlying writes for %d calls, want one per call", out.calls, writes)
			}
		})
	}
	t.Run("OneWritePerCall", func(t *testing.T) {
		var out countingWriter
		w := NewWriter(&out)
		chunk := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\n"), 1771) // 64 KiB, cut mid-line
		for range 100 {
			if _, err := w.Stream(Stdout).Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := out.calls, 100; got != want {
			t.Errorf("got %d underlying writes, want %d", got, want)
		}
	})
	t.Run("NoAllocs", func(t *testing.T) {
		w := NewWriter(&countingWriter{})
		s := w.Stream(Stdout)
		chunk := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\n"), 1771)
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := s.Write(chunk); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 {
			t.Errorf("got %v allocations per 64 KiB Write, want 0", allocs)
		}
	})
}
