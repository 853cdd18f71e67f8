package crilog

import (
	"bytes"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// droppedLine matches the line Close ends a truncated log with.
var droppedLine = regexp.MustCompile(`^quire: log truncated at max_log_bytes \((\d+) bytes\): (\d+) bytes of output were dropped$`)

// limitedLog writes each of writes to its stream of a Writer limited to
// max bytes and returns the records, the file's size and the Writer.
func limitedLog(t *testing.T, max int64, writes []streamWrite) ([]rec, int64, *Writer) {
	t.Helper()
	path := logPath(t)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Limit(max)
	for _, sw := range writes {
		if n, err := w.Stream(sw.stream).Write(sw.data); err != nil || n != len(sw.data) {
			t.Fatalf("write %d bytes: %d, %v; want every byte taken", len(sw.data), n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := readRecords(t, path)
	return recs, fi.Size(), w
}

type streamWrite struct {
	stream string
	data   []byte
}

// represented counts the stream bytes the records stand for: content,
// plus the newline an F record ended with. Test data has no "\r\n".
func represented(recs []rec) int64 {
	var n int64
	for _, r := range recs {
		n += int64(len(r.content))
		if r.tag == 'F' {
			n++
		}
	}
	return n
}

// lastDropped checks that the last record is the truncation line and
// returns the number of bytes it says were dropped.
func lastDropped(t *testing.T, recs []rec, max int64) int64 {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("empty log")
	}
	last := recs[len(recs)-1]
	m := droppedLine.FindStringSubmatch(last.content)
	if last.stream != Stderr || last.tag != 'F' || m == nil {
		t.Fatalf("last record %v is not the truncation line", last)
	}
	if m[1] != strconv.FormatInt(max, 10) {
		t.Errorf("truncation line names limit %s, want %d", m[1], max)
	}
	n, _ := strconv.ParseInt(m[2], 10, 64)
	return n
}

func TestWriter_Limit(t *testing.T) {
	t.Run("Yes", func(t *testing.T) {
		// yes | head -c 2000000, read in 64 KiB pieces.
		const total, max = 2_000_000, 100_000
		data := bytes.Repeat([]byte("y\n"), total/2)
		var writes []streamWrite
		for p := data; len(p) > 0; p = p[min(len(p), 64<<10):] {
			writes = append(writes, streamWrite{Stdout, p[:min(len(p), 64<<10)]})
		}
		recs, size, w := limitedLog(t, max, writes)
		if size > max+200 {
			t.Errorf("log is %d bytes, want at most %d plus one line", size, max)
		}
		if size < max-200 {
			t.Errorf("log is %d bytes: it stopped well before its %d-byte limit", size, max)
		}
		dropped := lastDropped(t, recs, max)
		body := recs[:len(recs)-1]
		for _, r := range body {
			if r != (rec{Stdout, 'F', "y"}) {
				t.Fatalf("record %v, want stdout F y", r)
			}
		}
		if got := represented(body) + dropped; got != total {
			t.Errorf("%d bytes logged + %d dropped = %d, want %d", represented(body), dropped, got, total)
		}
		if !w.Truncated() || w.Dropped() != dropped {
			t.Errorf("Truncated %v Dropped %d, want true %d", w.Truncated(), w.Dropped(), dropped)
		}
		if got := w.Bytes(Stdout); got != total {
			t.Errorf("Bytes(stdout) = %d, want every byte received (%d)", got, total)
		}
	})
	t.Run("UnderTheLimit", func(t *testing.T) {
		recs, _, w := limitedLog(t, 1000, []streamWrite{{Stdout, []byte("a\nb")}, {Stderr, []byte("c\n")}})
		want := []rec{{Stdout, 'F', "a"}, {Stderr, 'F', "c"}, {Stdout, 'P', "b"}}
		if len(recs) != len(want) {
			t.Fatalf("records %v, want %v", recs, want)
		}
		for i := range want {
			if recs[i] != want[i] {
				t.Errorf("record %d: %v, want %v", i, recs[i], want[i])
			}
		}
		if w.Truncated() || w.Dropped() != 0 {
			t.Errorf("Truncated %v Dropped %d under the limit", w.Truncated(), w.Dropped())
		}
	})
	t.Run("NothingFits", func(t *testing.T) {
		recs, _, _ := limitedLog(t, 10, []streamWrite{{Stdout, []byte("hello\n")}})
		if len(recs) != 1 || lastDropped(t, recs, 10) != 6 {
			t.Errorf("records %v, want only the truncation line saying 6", recs)
		}
	})
	t.Run("LinesAfterTruncation", func(t *testing.T) {
		// quire's own lines (a timeout) still go in; the truncation line
		// stays last.
		path := logPath(t)
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w.Limit(100)
		_, _ = w.Stream(Stdout).Write(bytes.Repeat([]byte("0123456789\n"), 100))
		_ = w.Line(Stderr, []byte("quire: killed after the 1s timeout"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		recs, _ := readRecords(t, path)
		if len(recs) < 2 || recs[len(recs)-2].content != "quire: killed after the 1s timeout" {
			t.Errorf("records %v, want the timeout line before the truncation line", recs)
		}
		lastDropped(t, recs, 100)
	})
	t.Run("Accounting", func(t *testing.T) {
		// Mixed line lengths (P records, lines left open) on both
		// streams, cut at random: logged + dropped is every byte.
		r := rand.New(rand.NewPCG(3, 4))
		for round := range 40 {
			var writes []streamWrite
			var total int64
			for range 60 {
				n := r.IntN(200)
				if r.IntN(8) == 0 {
					n = r.IntN(3 * MaxLineChunk)
				}
				data := []byte(strings.Repeat("a", n))
				if r.IntN(4) > 0 {
					data = append(data, '\n')
				}
				stream := Stdout
				if r.IntN(3) == 0 {
					stream = Stderr
				}
				writes = append(writes, streamWrite{stream, data})
				total += int64(len(data))
			}
			max := int64(1 + r.IntN(int(total)))
			recs, size, _ := limitedLog(t, max, writes)
			if size > max+200 {
				t.Fatalf("round %d: log is %d bytes, limit %d", round, size, max)
			}
			last := recs[len(recs)-1]
			if !droppedLine.MatchString(last.content) {
				if represented(recs) > total {
					t.Fatalf("round %d: %d bytes logged of %d", round, represented(recs), total)
				}
				continue // everything fitted
			}
			dropped := lastDropped(t, recs, max)
			if got := represented(recs[:len(recs)-1]) + dropped; got != total {
				t.Errorf("round %d (limit %d): %d logged + %d dropped = %d, want %d",
					round, max, represented(recs[:len(recs)-1]), dropped, got, total)
			}
		}
	})
}
