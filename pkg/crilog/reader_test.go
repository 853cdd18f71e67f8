package crilog

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseLine(t *testing.T) {
	valid := []struct {
		name string
		line string
		want Entry
	}{
		{"Full", "2016-10-06T00:17:09.669794202Z stdout F log content 1",
			Entry{time.Date(2016, 10, 6, 0, 17, 9, 669794202, time.UTC), "stdout", false, []byte("log content 1")}},
		{"Partial", "2016-10-06T00:17:09Z stderr P  two  spaces ",
			Entry{time.Date(2016, 10, 6, 0, 17, 9, 0, time.UTC), "stderr", true, []byte(" two  spaces ")}},
		{"Empty", "2026-01-02T03:04:05.1Z stdout F ",
			Entry{time.Date(2026, 1, 2, 3, 4, 5, 1e8, time.UTC), "stdout", false, []byte{}}},
		{"Binary", "2026-01-02T03:04:05Z stdout F \x00\xff\xc3\x28\r",
			Entry{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "stdout", false, []byte("\x00\xff\xc3\x28\r")}},
		{"Offset", "2026-01-02T05:04:05+02:00 stdout F x",
			Entry{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "stdout", false, []byte("x")}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLine([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tt.want.Time) || got.Stream != tt.want.Stream ||
				got.Partial != tt.want.Partial || !bytes.Equal(got.Content, tt.want.Content) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	malformed := []struct {
		name, line string
	}{
		{"EmptyLine", ""},
		{"OnlyTimestamp", "2026-01-02T03:04:05Z"},
		{"BadTimestamp", "2026-13-02T03:04:05Z stdout F x"},
		{"NoTimezone", "2026-01-02T03:04:05 stdout F x"},
		{"LeadingSpace", " 2026-01-02T03:04:05Z stdout F x"},
		{"DoubleSpace", "2026-01-02T03:04:05Z  stdout F x"},
		{"UnknownStream", "2026-01-02T03:04:05Z stdin F x"},
		{"NoTag", "2026-01-02T03:04:05Z stdout "},
		{"TagWithoutSpace", "2026-01-02T03:04:05Z stdout F"},
		{"LongTag", "2026-01-02T03:04:05Z stdout FF x"},
		{"UnknownTag", "2026-01-02T03:04:05Z stdout X x"},
		{"LowercaseTag", "2026-01-02T03:04:05Z stdout f x"},
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseLine([]byte(tt.line)); err == nil {
				t.Errorf("got %+v, want an error", got)
			}
		})
	}
}

func TestReader_Next(t *testing.T) {
	type out struct {
		stream  string
		content string
		partial bool
		sec     int // second of the line's timestamp
	}
	tests := []struct {
		name string
		log  string
		want []out
	}{
		{"Empty", "", nil},
		{"Kubelet", "2016-10-06T00:17:09.669794202Z stdout P log content 1\n" +
			"2016-10-06T00:17:09.669794203Z stderr F log content 2\n",
			[]out{{"stderr", "log content 2", false, 9}, {"stdout", "log content 1", true, 9}}},
		{"JoinPerStream", "2026-01-02T03:04:01Z stdout P ab\n" +
			"2026-01-02T03:04:02Z stderr F err\n" +
			"2026-01-02T03:04:03Z stdout P cd\n" +
			"2026-01-02T03:04:04Z stdout F ef\n" +
			"2026-01-02T03:04:05Z stdout F \n",
			[]out{{"stderr", "err", false, 2}, {"stdout", "abcdef", false, 1}, {"stdout", "", false, 5}}},
		{"UnfinishedOrder", "2026-01-02T03:04:01Z stderr P late\n" +
			"2026-01-02T03:04:02Z stdout P early\n" +
			"2026-01-02T03:04:03Z stderr P r\n",
			[]out{{"stdout", "early", true, 2}, {"stderr", "later", true, 1}}},
		{"NoFinalNewline", "2026-01-02T03:04:01Z stdout F a\n2026-01-02T03:04:02Z stdout F b",
			[]out{{"stdout", "a", false, 1}, {"stdout", "b", false, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.log))
			var got []out
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, out{e.Stream, string(e.Content), e.Partial, e.Time.Second()})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("Malformed", func(t *testing.T) {
		r := NewReader(strings.NewReader("2026-01-02T03:04:01Z stdout F a\nnot a record\n"))
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		_, err := r.Next()
		if err == nil || !strings.Contains(err.Error(), "record 2") {
			t.Errorf("got %v, want an error naming record 2", err)
		}
	})
	t.Run("ContentIsKept", func(t *testing.T) {
		log := strings.Repeat("2026-01-02T03:04:01Z stdout F abc\n", 3)
		r := NewReader(strings.NewReader(log))
		first, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := string(first.Content), "abc"; got != want {
			t.Errorf("got %q after more reads, want %q", got, want)
		}
	})
}

func TestWriter_RoundTrip(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		data := [2][]byte{randomStream(r, 1+r.IntN(30)), randomStream(r, 1+r.IntN(30))}
		var buf bytes.Buffer
		w := NewWriter(&buf)

		// The two streams are written in random pieces, alternating at
		// random, as the two pipes of a process would deliver them.
		rest := data
		for len(rest[0])+len(rest[1]) > 0 {
			i := r.IntN(2)
			if len(rest[i]) == 0 {
				i = 1 - i
			}
			n := min(len(rest[i]), 1+r.IntN(70000))
			if _, err := w.Stream(streamNames[i]).Write(rest[i][:n]); err != nil {
				t.Fatal(err)
			}
			rest[i] = rest[i][n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		recs, _ := splitRecords(t, buf.Bytes())
		for _, rc := range recs {
			if len(rc.content) > MaxLineChunk {
				t.Fatalf("seed %d: record of %d bytes", seed, len(rc.content))
			}
		}
		for i, name := range streamNames {
			got := readerLines(t, bytes.NewReader(buf.Bytes()), name)
			if want := refLines(data[i]); !slices.Equal(got, want) {
				t.Errorf("seed %d, %s: got %d lines, want %d, first difference at %d",
					seed, name, len(got), len(want), firstDiff(got, want))
			}
			if got, want := w.Bytes(name), int64(len(data[i])); got != want {
				t.Errorf("seed %d, %s: got %d bytes, want %d", seed, name, got, want)
			}
		}
	}
}

// firstDiff returns the index of the first line where a and b differ.
func firstDiff(a, b []line) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
