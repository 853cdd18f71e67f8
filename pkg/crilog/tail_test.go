package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// tailLine is what Tail returns, reduced for comparison.
type tailLine struct {
	stream  string
	content string
	partial bool
}

// String shortens a line for failure messages.
func (l tailLine) String() string {
	return fmt.Sprintf("%s %d:%.40q partial=%v", l.stream, len(l.content), l.content, l.partial)
}

// tailLines reduces entries for comparison.
func tailLines(es []Entry) []tailLine {
	out := make([]tailLine, 0, len(es))
	for _, e := range es {
		out = append(out, tailLine{e.Stream, string(e.Content), e.Partial})
	}
	return out
}

// naiveTail is Tail done the slow way, from the first record: every line
// is joined, numbered by its last record, sorted, and the last n kept.
func naiveTail(tb testing.TB, path string, n, maxLineBytes int) []tailLine {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	type numbered struct {
		l    tailLine
		last int
	}
	var done []numbered
	open := map[string]*numbered{}
	for i, raw := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		e, err := ParseLine(raw)
		if err != nil {
			tb.Fatal(err)
		}
		o := open[e.Stream]
		if o == nil {
			o = &numbered{l: tailLine{stream: e.Stream}}
			open[e.Stream] = o
		}
		o.l.content += string(e.Content)
		o.last = i
		if !e.Partial {
			done = append(done, *o)
			delete(open, e.Stream)
		}
	}
	for _, o := range open {
		o.l.partial = true
		done = append(done, *o)
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].last < done[j].last })
	done = done[max(0, len(done)-n):]
	out := []tailLine{}
	for _, d := range done {
		if maxLineBytes > 0 && len(d.l.content) > maxLineBytes {
			d.l.content = d.l.content[:maxLineBytes]
		}
		out = append(out, d.l)
	}
	return out
}

// writeLog writes a log with the given stdout and stderr output.
func writeLog(tb testing.TB, path string, stdout, stderr []byte) {
	tb.Helper()
	w, err := Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	writeCut(tb, w.Stream(Stdout), stdout, nil)
	writeCut(tb, w.Stream(Stderr), stderr, nil)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

func TestTail(t *testing.T) {
	t.Run("LastTwenty", func(t *testing.T) {
		path := logPath(t)
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10000 {
			if err := w.Line(streamNames[i%3/2], fmt.Appendf(nil, "line %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := Tail(path, 20, 1024)
		if err != nil {
			t.Fatal(err)
		}
		var want []tailLine
		for i := 9980; i < 10000; i++ {
			want = append(want, tailLine{streamNames[i%3/2], fmt.Sprintf("line %d", i), false})
		}
		if !slices.Equal(tailLines(got), want) {
			t.Errorf("got %v, want %v", tailLines(got), want)
		}
	})
	t.Run("ReadsOnlyTheEnd", func(t *testing.T) {
		path := logPath(t)
		var out []byte
		for i := range 10000 {
			out = fmt.Appendf(out, "line %d\n", i)
		}
		writeLog(t, path, out, nil)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		start, err := tailStart(f, st.Size(), 20)
		if err != nil {
			t.Fatal(err)
		}
		// 20 lines, plus the one before them that proves they are whole.
		if got, want := strings.Count(string(mustRead(t, path)[start:]), "\n"), 21; got != want {
			t.Errorf("got %d records after offset %d, want %d", got, start, want)
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		path := logPath(t)
		long := strings.Repeat("y", 40000)
		writeLog(t, path, []byte("short\n"+long+"\n"+long), []byte("e\n"))
		got, err := Tail(path, 3, 100)
		if err != nil {
			t.Fatal(err)
		}
		// The unfinished stdout line ends at Close, after stderr's line.
		want := []tailLine{{"stdout", long[:100], false}, {"stderr", "e", false}, {"stdout", long[:100], true}}
		if !slices.Equal(tailLines(got), want) {
			t.Errorf("got %v, want %v", tailLines(got), want)
		}
	})
	t.Run("Fewer", func(t *testing.T) {
		path := logPath(t)
		writeLog(t, path, []byte("a\nb"), []byte("c\n"))
		got, err := Tail(path, 20, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []tailLine{{"stdout", "a", false}, {"stderr", "c", false}, {"stdout", "b", true}}
		if !slices.Equal(tailLines(got), want) {
			t.Errorf("got %v, want %v", tailLines(got), want)
		}
	})
	t.Run("EmptyFile", func(t *testing.T) {
		path := logPath(t)
		writeLog(t, path, nil, nil)
		got, err := Tail(path, 20, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("got %v, %v, want no lines", tailLines(got), err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		_, err := Tail(filepath.Join(t.TempDir(), "none.log"), 20, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want %v", err, fs.ErrNotExist)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		path := logPath(t)
		if err := os.WriteFile(path, []byte("2026-01-02T03:04:01Z stdout F a\ngarbage\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Tail(path, 20, 0); err == nil {
			t.Error("got no error for a malformed record")
		}
	})
	t.Run("Foreign", func(t *testing.T) {
		// Written by hand: a stream whose unfinished line ends long before
		// the file does, and a chain of P records across the other stream.
		var log []byte
		rec := func(stream, tag, content string) {
			log = fmt.Appendf(log, "2026-01-02T03:04:05Z %s %s %s\n", stream, tag, content)
		}
		rec("stdout", "P", "dangling")
		for i := range 30 {
			rec("stderr", "F", fmt.Sprint("e", i))
			if i == 20 {
				rec("stdout", "P", "more")
			}
		}
		rec("stderr", "P", "chain-")
		for i := range 5 {
			rec("stdout", "F", fmt.Sprint("o", i))
		}
		rec("stderr", "F", "end")
		mixed := log
		log = nil
		rec("stdout", "P", "dangling")
		for i := range 30 {
			rec("stderr", "F", fmt.Sprint("e", i))
		}
		for name, data := range map[string][]byte{"Mixed": mixed, "Dangling": log} {
			path := logPath(t)
			if err := os.WriteFile(path, data[:len(data)-1], 0o644); err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 5, 6, 7, 12, 15, 30, 31, 40} {
				got, err := Tail(path, n, 0)
				if err != nil {
					t.Fatal(err)
				}
				if want := naiveTail(t, path, n, 0); !slices.Equal(tailLines(got), want) {
					t.Errorf("%s, n %d: got %v, want %v", name, n, tailLines(got), want)
				}
			}
		}
	})
	t.Run("MatchesNaive", func(t *testing.T) {
		for seed := range uint64(30) {
			r := rand.New(rand.NewPCG(seed, 11))
			path := filepath.Join(t.TempDir(), "sh.log")
			w, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			data := [2][]byte{randomStream(r, r.IntN(40)), randomStream(r, r.IntN(40))}
			for len(data[0])+len(data[1]) > 0 {
				i := r.IntN(2)
				n := min(len(data[i]), r.IntN(30000))
				writeCut(t, w.Stream(streamNames[i]), data[i][:n], nil)
				data[i] = data[i][n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			n, limit := 1+r.IntN(25), r.IntN(3)*20000
			got, err := Tail(path, n, limit)
			if err != nil {
				t.Fatal(err)
			}
			if want := naiveTail(t, path, n, limit); !slices.Equal(tailLines(got), want) {
				t.Errorf("seed %d, n %d: got %d lines, want %d", seed, n, len(got), len(want))
			}
		}
	})
}

// mustRead returns the content of path.
func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
