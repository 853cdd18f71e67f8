package crilog

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWriter_Stream(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		writes []string // stdout, in this order; joined for the other cuts
		want   []rec
	}{
		{"Simple", []string{"a\nbc\n"}, []rec{{"stdout", 'F', "a"}, {"stdout", 'F', "bc"}}},
		{"CRLF", []string{"a\r\nb\r\n"}, []rec{{"stdout", 'F', "a"}, {"stdout", 'F', "b"}}},
		{"CRLFSplit", []string{"a\r", "\nb\n"}, []rec{{"stdout", 'F', "a"}, {"stdout", 'F', "b"}}},
		{"CRInside", []string{"a\rb\n"}, []rec{{"stdout", 'F', "a\rb"}}},
		{"CROnlyOneStripped", []string{"a\r\r\n"}, []rec{{"stdout", 'F', "a\r"}}},
		{"EmptyLines", []string{"\n\n"}, []rec{{"stdout", 'F', ""}, {"stdout", 'F', ""}}},
		{"EmptyWrite", []string{""}, nil},
		{"Line40000", []string{x(40000) + "\n"}, []rec{
			{"stdout", 'P', x(16384)}, {"stdout", 'P', x(16384)}, {"stdout", 'F', x(7232)}}},
		{"Exactly16384", []string{x(16384) + "\n"}, []rec{{"stdout", 'F', x(16384)}}},
		{"Exactly16384CRLF", []string{x(16384), "\r", "\n"}, []rec{{"stdout", 'F', x(16384)}}},
		{"Line16385", []string{x(16385) + "\n"}, []rec{{"stdout", 'P', x(16384)}, {"stdout", 'F', "x"}}},
		{"Line32768", []string{x(32768) + "\n"}, []rec{{"stdout", 'P', x(16384)}, {"stdout", 'F', x(16384)}}},
		{"CRAfterChunk", []string{x(16384) + "\rb\n"}, []rec{{"stdout", 'P', x(16384)}, {"stdout", 'F', "\rb"}}},
		{"Unterminated", []string{"a\nbc"}, []rec{{"stdout", 'F', "a"}, {"stdout", 'P', "bc"}}},
		{"UnterminatedCR", []string{"bc\r"}, []rec{{"stdout", 'P', "bc\r"}}},
		{"UnterminatedLong", []string{x(20000)}, []rec{{"stdout", 'P', x(16384)}, {"stdout", 'P', x(3616)}}},
		{"Unterminated16384CR", []string{x(16384) + "\r"}, []rec{{"stdout", 'P', x(16384)}, {"stdout", 'P', "\r"}}},
		{"Binary", []string{"\x00\xff\xfe\xc3\x28 a\x00\n\xed\xa0\x80\n"}, []rec{
			{"stdout", 'F', "\x00\xff\xfe\xc3\x28 a\x00"}, {"stdout", 'F', "\xed\xa0\x80"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(strings.Join(tt.writes, ""))
			cuts := map[string][]int{
				"AsGiven":   nil,
				"OneWrite":  {0},
				"ChunkEdge": {MaxLineChunk - 1, 1, 1, 1},
				"Random":    randomSizes(rand.New(rand.NewPCG(1, 2)), 64, 5000),
			}
			if len(data) < 1000 {
				cuts["Bytewise"] = []int{1}
			}
			for cut, sizes := range cuts {
				path := logPath(t)
				w, err := Create(path)
				if err != nil {
					t.Fatal(err)
				}
				if sizes == nil {
					for _, s := range tt.writes {
						writeCut(t, w.Stream(Stdout), []byte(s), nil)
					}
				} else {
					writeCut(t, w.Stream(Stdout), data, sizes)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				got, _ := readRecords(t, path)
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: got %v, want %v", cut, got, tt.want)
				}
				if got, want := decodeLines(t, path, Stdout), refLines(data); !slices.Equal(got, want) {
					t.Errorf("%s: decoded %v, want %v", cut, got, want)
				}
			}
		})
	}
}

func TestWriter_Immediate(t *testing.T) {
	path := logPath(t)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	out := w.Stream(Stdout)
	step := func(write string, want []rec) {
		t.Helper()
		if _, err := out.Write([]byte(write)); err != nil {
			t.Fatal(err)
		}
		if got, _ := readRecords(t, path); !slices.Equal(got, want) {
			t.Errorf("after %v: got %v, want %v", write, got, want)
		}
	}
	x := strings.Repeat("x", MaxLineChunk)
	step("a\nb", []rec{{"stdout", 'F', "a"}})
	step("\n", []rec{{"stdout", 'F', "a"}, {"stdout", 'F', "b"}})
	// A full chunk waits: it is a whole line if a newline comes next.
	step(x, []rec{{"stdout", 'F', "a"}, {"stdout", 'F', "b"}})
	// One more byte proves the line longer, so the chunk goes out at once.
	step("y", []rec{{"stdout", 'F', "a"}, {"stdout", 'F', "b"}, {"stdout", 'P', x}})
}

func TestWriter_Line(t *testing.T) {
	x := strings.Repeat("x", 40000)
	tests := []struct {
		name    string
		content string
		want    []rec
	}{
		{"Empty", "", []rec{{"stdout", 'F', ""}}},
		{"One", "hello world", []rec{{"stdout", 'F', "hello world"}}},
		{"FinalNewline", "a\n", []rec{{"stdout", 'F', "a"}}},
		{"Several", "a\r\n\nb", []rec{{"stdout", 'F', "a"}, {"stdout", 'F', ""}, {"stdout", 'F', "b"}}},
		{"Long", x + "\nz", []rec{{"stdout", 'P', x[:16384]}, {"stdout", 'P', x[:16384]},
			{"stdout", 'F', x[:7232]}, {"stdout", 'F', "z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := logPath(t)
			w, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Line(Stdout, []byte(tt.content)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got, _ := readRecords(t, path); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("Huge", func(t *testing.T) {
		var out countingWriter
		w := NewWriter(&out)
		if err := w.Line(Stderr, bytes.Repeat([]byte("y"), 8<<20)); err != nil {
			t.Fatal(err)
		}
		if got, want := out.calls, 2; got < want {
			t.Errorf("got %d underlying writes for 8 MiB, want at least %d", got, want)
		}
		if got, limit := out.largest, flushAt+2*MaxLineChunk; got > limit {
			t.Errorf("got a write of %d bytes, want at most %d", got, limit)
		}
	})
	t.Run("UnknownStream", func(t *testing.T) {
		w := NewWriter(&bytes.Buffer{})
		if err := w.Line("stdin", []byte("a")); err == nil {
			t.Error("got no error for stream stdin")
		}
	})
}

func TestWriter_Timestamps(t *testing.T) {
	t.Run("TakenAtWrite", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		clock := fakeClock(100, 200, 300, 50, 400)
		w.now = clock
		out := w.Stream(Stdout)
		writeCut(t, out, []byte("ab"), nil)         // 100: nothing complete
		writeCut(t, out, []byte("c\nd\ne\nf"), nil) // 200: the line is complete now
		writeCut(t, out, []byte("g\n"), nil)        // 300
		writeCut(t, out, []byte("h\n"), nil)        // 50: the clock stepped back
		if err := w.Close(); err != nil {           // 400: nothing pending
			t.Fatal(err)
		}
		recs, times := splitRecords(t, buf.Bytes())
		var got []int64
		for _, tm := range times {
			got = append(got, tm.UnixNano()-clockBase.UnixNano())
		}
		if want := []int64{200, 200, 200, 300, 300}; !slices.Equal(got, want) {
			t.Errorf("got times %v, want %v (records %q)", got, want, recs)
		}
	})
	t.Run("ClosePartial", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.now = fakeClock(100, 700)
		writeCut(t, w.Stream(Stderr), []byte("tail"), nil)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_, times := splitRecords(t, buf.Bytes())
		if got, want := times[0].UnixNano()-clockBase.UnixNano(), int64(700); got != want {
			t.Errorf("got %d, want %d", got, want)
		}
	})
	t.Run("RealClock", func(t *testing.T) {
		path := logPath(t)
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			writeCut(t, w.Stream(streamNames[i%2]), []byte("line\n"), nil)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_, times := readRecords(t, path)
		if !slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
			t.Error("timestamps decrease within the file")
		}
	})
}

func TestWriter_Concurrent(t *testing.T) {
	path := logPath(t)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const lines = 2000
	want := map[string][]line{}
	wantBytes := map[string]int64{}
	done := make(chan error)
	for s, name := range streamNames {
		var data []byte
		for i := range lines {
			l := name + "-" + strings.Repeat("z", i%50) + "-" + string(rune('a'+i%26))
			data = append(data, l+"\n"...)
		}
		want[name] = refLines(data)
		wantBytes[name] = int64(len(data))
		go func() {
			r := rand.New(rand.NewPCG(uint64(s), 9))
			out := w.Stream(name)
			for len(data) > 0 {
				n := min(len(data), 1+r.IntN(40))
				if _, err := out.Write(data[:n]); err != nil {
					done <- err
					return
				}
				data = data[n:]
			}
			done <- nil
		}()
	}
	for range streamNames {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, _ := readRecords(t, path)
	for _, r := range recs {
		if r.tag != 'F' || !strings.HasPrefix(r.content, r.stream+"-") {
			t.Fatalf("got record %q, want whole lines of its own stream", r)
		}
	}
	for _, name := range streamNames {
		if got := decodeLines(t, path, name); !slices.Equal(got, want[name]) {
			t.Errorf("%s: lines out of order or changed", name)
		}
		if got, want := w.Bytes(name), wantBytes[name]; got != want {
			t.Errorf("%s: got %d bytes received, want %d", name, got, want)
		}
	}
}
