package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// serveEnv, set to a --repos directory, makes the test binary a server
// of it (see TestMain): the log benchmark measures its peak RSS.
const serveEnv = "QUIRE_WEB_BENCH_SERVE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		if err := serveChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// serveChild serves the repositories under dir on a free port, prints
// its address and serves until its stdin closes.
func serveChild(dir string) error {
	src := &web.Sources{ReposDirs: []string{dir}}
	defer src.Close()
	srv, err := web.New(web.Options{Sources: src})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, srv)
	fmt.Println(ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// benchLogSize is the size of the benchmark's log.
const benchLogSize = 1 << 30

// benchLogRun is the run of the benchmark's log.
var benchLogRun = runID(1)

// benchLog makes (once; it is kept under $TMPDIR/quire-web-bench) a
// repository whose run has one sh call with a 1 GiB log, and returns
// the --repos directory and the log's path.
func benchLog(b *testing.B) (string, string) {
	b.Helper()
	ctx := context.Background()
	dir := filepath.Join(os.TempDir(), "quire-web-bench")
	repos := filepath.Join(dir, "repos")
	root := datadir.Own(filepath.Join(repos, "big.git"))
	log := root.Run(benchLogRun).Job("build").ShLog(1)
	if fi, err := os.Stat(log); err == nil && fi.Size() >= benchLogSize {
		return repos, log
	}
	must(b, os.RemoveAll(dir))
	gitInit(b, filepath.Join(repos, "big.git"))
	must(b, os.MkdirAll(string(root), 0o755))
	st, err := store.Open(ctx, root.DB())
	must(b, err)
	defer st.Close()
	must(b, st.CreateRun(ctx, store.Run{ID: benchLogRun, Repo: "big.git", Ref: "refs/heads/main",
		SHA: "0123456789abcdef0123456789abcdef01234567", Trigger: "push", QueuedAtMS: 1, State: store.RunPending}))
	must(b, st.StartRun(ctx, benchLogRun, 2, ""))
	must(b, st.StartJob(ctx, benchLogRun, "build", 3))
	zero := 0
	must(b, st.AddShEvent(ctx, store.ShEvent{RunID: benchLogRun, JobID: "build", Seq: 1, StartedAtMS: 4,
		FinishedAtMS: 5, Cmd: "make", StdoutBytes: benchLogSize}))
	must(b, st.FinishJob(ctx, benchLogRun, "build", store.JobComplete, &zero, "", "", 6))
	must(b, st.FinishRun(ctx, benchLogRun, store.RunComplete, "", "", 7))
	must(b, writeBigLog(log, benchLogSize))
	return repos, log
}

// writeBigLog writes CRI records of about 100 bytes, with colours now
// and then, until the file holds size bytes.
func writeBigLog(path string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 0, 8<<20)
	var n int64
	for i := 1; n < size; i++ {
		buf = append(buf, "2026-01-01T00:00:00.000000000Z stdout F "...)
		if i%10 == 0 {
			buf = append(buf, "\x1b[32mok\x1b[0m "...)
		}
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, " the quick brown fox jumps over the lazy dog <b>&amp;</b> 0123456789\n"...)
		if len(buf) > 8<<20-256 {
			if _, err := f.Write(buf); err != nil {
				return err
			}
			n += int64(len(buf))
			buf = buf[:0]
		}
	}
	if _, err := f.Write(buf); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// BenchmarkServer_LogFirstPage: pages of a 1 GiB log (SPEC §14: the
// first in ≤ 100 ms, with the server's RSS ≤ 64 MB while serving it).
// The server runs in a child process (this test binary, see TestMain)
// so that its peak RSS (VmHWM) is its own; the first, a middle and the
// last pages are fetched, then the peak is reported as MB-peak-RSS.
func BenchmarkServer_LogFirstPage(b *testing.B) {
	repos, log := benchLog(b)
	fi, err := os.Stat(log)
	must(b, err)
	exe, err := os.Executable()
	must(b, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serveEnv+"="+repos)
	stdin, err := cmd.StdinPipe()
	must(b, err)
	stdout, err := cmd.StdoutPipe()
	must(b, err)
	cmd.Stderr = os.Stderr
	must(b, cmd.Start())
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	must(b, err)
	base := "http://" + strings.TrimSpace(addr)
	client := &http.Client{Timeout: time.Minute}

	page := base + "/runs/" + benchLogRun + "/log?job=build&sh=1"
	// A cursor may point anywhere in a file: reading moves on to the
	// next record.
	middle := fmt.Sprintf("%s&from=%d.%d", page, 5_000_000, fi.Size()/2)
	last := fmt.Sprintf("%s&from=%d.%d", page, 10_000_000, fi.Size()-200<<10)
	body := benchBody(b, client, page)
	if !strings.Contains(body, `id="L1000"`) || !strings.Contains(body, "More lines") {
		b.Fatalf("the first page lacks its 1,000 lines")
	}
	benchBody(b, client, middle)
	benchBody(b, client, last)

	static := baseline(b, client, base)
	b.Run("Baseline", func(b *testing.B) { measure(b, client, base+"/static/style.css", static) })
	b.Run("First", func(b *testing.B) { measure(b, client, page, static) })
	b.Run("Middle", func(b *testing.B) { measure(b, client, middle, static) })
	b.Run("Last", func(b *testing.B) { measure(b, client, last, static) })
	b.Run("Text64MiB", func(b *testing.B) {
		// The start of the plain-text download, cut after 64 MiB: memory
		// must not grow with it.
		for range b.N {
			res, err := client.Get(base + "/runs/" + benchLogRun + "/log.txt?job=build&sh=1")
			must(b, err)
			io.CopyN(io.Discard, res.Body, 64<<20)
			res.Body.Close()
		}
	})
	b.Run("PeakRSS", func(b *testing.B) {
		for range b.N {
			benchGet(b, client, page)
		}
		b.ReportMetric(float64(vmHWM(b, cmd.Process.Pid))/(1<<20), "MB-peak-RSS")
	})
}

// benchBody GETs url and returns its body.
func benchBody(b *testing.B, client *http.Client, url string) string {
	res, err := client.Get(url)
	must(b, err)
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, res.Body)
	must(b, err)
	if res.StatusCode != 200 {
		b.Fatalf("GET %s: %d: %s", url, res.StatusCode, short(buf.String()))
	}
	return buf.String()
}

// vmHWM is the peak resident set size of process pid, in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(b, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			must(b, err)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/pid/status")
	return 0
}
