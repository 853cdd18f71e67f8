package logpage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigLogSize is the size of the log the benchmarks read: SPEC §14 asks
// for the first page of a 1 GiB log in 100 ms with RSS within 64 MB.
const bigLogSize = 1 << 30

var (
	bigLogOnce sync.Once
	bigLogPath string
	bigLogErr  error
)

// bigLog returns a 1 GiB CRI log, made once in $TMPDIR/quire-logpage-bench
// and kept there for the next run (delete the directory to remake it).
func bigLog(b *testing.B) string {
	b.Helper()
	bigLogOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "quire-logpage-bench")
		bigLogPath = filepath.Join(dir, "sh-1.log")
		if st, err := os.Stat(bigLogPath); err == nil && st.Size() >= bigLogSize {
			return
		}
		if bigLogErr = os.MkdirAll(dir, 0o755); bigLogErr != nil {
			return
		}
		bigLogErr = makeBigLog(bigLogPath, bigLogSize)
	})
	if bigLogErr != nil {
		b.Fatalf("make the benchmark log: %v", bigLogErr)
	}
	return bigLogPath
}

// makeBigLog writes at least size bytes of records to path, directly
// rather than through crilog's Writer, for speed: short lines on both
// streams, now and then a 40 KiB line in P records with lines of the
// other stream between them.
func makeBigLog(path string, size int64) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	long := bytes.Repeat([]byte("0123456789abcdef"), 1024)
	var rec []byte
	for n, written := 0, int64(0); written < size; n++ {
		t = t.Add(time.Microsecond)
		rec = t.AppendFormat(rec[:0], time.RFC3339Nano)
		switch {
		case n%5000 == 1 || n%5000 == 3:
			rec = append(rec, " stdout P "...)
			rec = append(rec, long...)
		case n%5000 == 2:
			rec = append(rec, " stderr F between the parts of a long line"...)
		case n%5000 == 4:
			rec = append(rec, " stdout F the end of a long line"...)
		case n%7 == 0:
			rec = append(rec, " stderr F warning: "...)
			rec = strconv.AppendInt(rec, int64(n), 10)
			rec = append(rec, " <script>alert(1)</script> \x1b[33myellow\x1b[0m"...)
		default:
			rec = append(rec, " stdout F line "...)
			rec = strconv.AppendInt(rec, int64(n), 10)
			rec = append(rec, " ok   github.com/quire-ci/quire-hook/pkg/something   0.012s coverage: 81.0%"...)
		}
		rec = append(rec, '\n')
		if _, err := w.Write(rec); err != nil {
			f.Close()
			return err
		}
		written += int64(len(rec))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// BenchmarkFirstPage reads the first page of 1,000 lines of a 1 GiB log;
// BenchmarkReadFile4K is the baseline it compares with: opening the
// same file, reading 4 KiB and closing it. Page/Middle and Page/End read
// a page from a cursor in the middle (not at a record start) and near
// the end.
func BenchmarkFirstPage(b *testing.B) {
	files := []string{bigLog(b)}
	for b.Loop() {
		p, err := Read(files, Cursor{}, 1000, 1<<20)
		if err != nil || len(p.Lines) < 1000 {
			b.Fatalf("Read: %d lines, %v", len(p.Lines), err)
		}
	}
}

// BenchmarkReadFile4K is the baseline of BenchmarkFirstPage.
func BenchmarkReadFile4K(b *testing.B) {
	path := bigLog(b)
	buf := make([]byte, 4096)
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Read(buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkPage reads a page of 1,000 lines from cursors at the start,
// the middle and the end of the log: the same cost wherever they point.
func BenchmarkPage(b *testing.B) {
	files := []string{bigLog(b)}
	for _, at := range []struct {
		name string
		off  int64
	}{{"Start", 0}, {"Middle", bigLogSize/2 + 17}, {"End", bigLogSize - 200<<10}} {
		b.Run(at.name, func(b *testing.B) {
			for b.Loop() {
				p, err := Read(files, Cursor{Offsets: []int64{at.off}}, 1000, 1<<20)
				if err != nil || len(p.Lines) == 0 {
					b.Fatalf("Read: %d lines, %v", len(p.Lines), err)
				}
			}
		})
	}
}

// BenchmarkRSS reads pages at the start, the middle and the end of the
// 1 GiB log in a child process (this test binary, running
// TestRSSChild) and reports the child's peak RSS (VmHWM) before and
// after, in MB: SPEC §14 asks for at most 64 MB.
func BenchmarkRSS(b *testing.B) {
	path := bigLog(b)
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.v")
		cmd.Env = append(os.Environ(), "QUIRE_LOGPAGE_RSS_LOG="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		var before, after int64
		for _, l := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(strings.TrimSpace(l), "rss_kb %d %d", &before, &after); err == nil {
				break
			}
		}
		if after == 0 {
			b.Fatalf("child reported no RSS:\n%s", out)
		}
		b.ReportMetric(float64(before)/1024, "MB-peak-RSS-before")
		b.ReportMetric(float64(after)/1024, "MB-peak-RSS-after")
		b.ReportMetric(float64(after-before)/1024, "MB-peak-RSS-growth")
	}
}

// TestRSSChild is BenchmarkRSS's child: it runs only when the benchmark
// starts it.
func TestRSSChild(t *testing.T) {
	path := os.Getenv("QUIRE_LOGPAGE_RSS_LOG")
	if path == "" {
		t.Skip("run by BenchmarkRSS")
	}
	before := vmHWM(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, st.Size() / 2, st.Size() - 1<<20} {
		c := Cursor{Offsets: []int64{off}}
		for range 20 {
			p, err := Read([]string{path}, c, 1000, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			c = p.Next
		}
	}
	fmt.Printf("rss_kb %d %d\n", before, vmHWM(t))
}

// vmHWM returns the process's peak resident set size in KiB.
func vmHWM(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
