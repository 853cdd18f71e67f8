package crilog

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rec is one record of a log file, without its timestamp.
type rec struct {
	stream  string
	tag     byte
	content string
}

// String shortens a record for failure messages.
func (r rec) String() string {
	return fmt.Sprintf("%s %c %d:%.40q", r.stream, r.tag, len(r.content), r.content)
}

// line is one logical line as a test expects it.
type line struct {
	content string
	partial bool
}

// String shortens a line for failure messages.
func (l line) String() string {
	return fmt.Sprintf("%d:%.40q partial=%v", len(l.content), l.content, l.partial)
}

// readRecords splits the log at path into records by hand, independently
// of ParseLine, and checks every timestamp is UTC RFC 3339 with
// nanoseconds.
func readRecords(tb testing.TB, path string) ([]rec, []time.Time) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return splitRecords(tb, data)
}

// splitRecords is readRecords over bytes in memory.
func splitRecords(tb testing.TB, data []byte) ([]rec, []time.Time) {
	tb.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		tb.Fatalf("log does not end with a newline: %q", tail(data))
	}
	var recs []rec
	var times []time.Time
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		raw := data[:i]
		data = data[i+1:]
		fields := bytes.SplitN(raw, []byte(" "), 4)
		if len(fields) != 4 || len(fields[2]) != 1 {
			tb.Fatalf("malformed record %q", raw)
		}
		ts := string(fields[0])
		if !strings.HasSuffix(ts, "Z") {
			tb.Fatalf("timestamp %q is not UTC", ts)
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			tb.Fatalf("timestamp of %q: %v", raw, err)
		}
		times = append(times, t)
		recs = append(recs, rec{string(fields[1]), fields[2][0], string(fields[3])})
	}
	return recs, times
}

// tail shortens b for failure messages.
func tail(b []byte) []byte {
	return b[max(0, len(b)-64):]
}

// decodeLines reads the log at path with Reader and returns the lines of
// stream.
func decodeLines(tb testing.TB, path, stream string) []line {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	return readerLines(tb, f, stream)
}

// readerLines decodes r with Reader and returns the lines of stream.
func readerLines(tb testing.TB, r io.Reader, stream string) []line {
	tb.Helper()
	rd := NewReader(r)
	var got []line
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			tb.Fatal(err)
		}
		if e.Stream == stream {
			got = append(got, line{string(e.Content), e.Partial})
		}
	}
}

// refLines is what a stream of data should decode to: lines split at
// '\n', one '\r' before it dropped, and a last line without '\n' kept as
// partial.
func refLines(data []byte) []line {
	parts := bytes.Split(data, []byte("\n"))
	last := parts[len(parts)-1]
	var out []line
	for _, p := range parts[:len(parts)-1] {
		out = append(out, line{string(bytes.TrimSuffix(p, []byte("\r"))), false})
	}
	if len(last) > 0 {
		out = append(out, line{string(last), true})
	}
	return out
}

// writeCut writes data to w in pieces whose sizes come from sizes,
// cycling through it; sizes of zero or an empty list mean one Write.
func writeCut(tb testing.TB, w io.Writer, data []byte, sizes []int) {
	tb.Helper()
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if len(sizes) > 0 && sizes[i%len(sizes)] > 0 {
			n = min(n, sizes[i%len(sizes)])
		}
		if _, err := w.Write(data[:n]); err != nil {
			tb.Fatal(err)
		}
		data = data[n:]
	}
}

// randomSizes returns n random write sizes up to max.
func randomSizes(r *rand.Rand, n, max int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1 + r.IntN(max)
	}
	return s
}

// randomStream returns random output: lines of mixed lengths, some longer
// than MaxLineChunk or right at its edge, with '\r', NUL, 0xff and
// invalid UTF-8, and sometimes no final newline.
func randomStream(r *rand.Rand, lines int) []byte {
	alphabet := []byte("ab \t\r\x00\xff\xc3\x28é")
	var b []byte
	for range lines {
		var n int
		switch r.IntN(6) {
		case 0:
			n = 0
		case 1:
			n = MaxLineChunk - 2 + r.IntN(5)
		case 2:
			n = r.IntN(3 * MaxLineChunk)
		default:
			n = r.IntN(120)
		}
		// Long lines repeat a random sample so that they stay cheap to make.
		sample := make([]byte, min(n, 97))
		for i := range sample {
			sample[i] = alphabet[r.IntN(len(alphabet))]
		}
		for n > 0 {
			k := min(n, len(sample))
			b = append(b, sample[:k]...)
			n -= k
		}
		if r.IntN(3) == 0 {
			b = append(b, '\r')
		}
		b = append(b, '\n')
	}
	if r.IntN(2) == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// logPath returns a fresh log path in a temporary directory.
func logPath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "sh-1.log")
}
