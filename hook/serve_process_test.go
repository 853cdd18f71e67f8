package hook_test

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveProc is a `quire-hook serve` process started by a test.
type serveProc struct {
	t   *testing.T
	cmd *exec.Cmd
	// URL is the address it printed, http://127.0.0.1:PORT/ (with the
	// base path).
	URL string

	mu       sync.Mutex
	out      strings.Builder // stdout and stderr so far
	read     chan struct{}   // closed when the output reached EOF
	exitedCh chan struct{}   // closed when the process has exited
}

// startServe starts the binary with args (serve and its flags) and
// returns once it printed the address it listens on. The process is
// killed when the test ends if it still runs.
func startServe(t *testing.T, env []string, dir string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = env, dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start quire-hook %v: %v", args, err)
	}
	s := &serveProc{t: t, cmd: cmd, read: make(chan struct{}), exitedCh: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		defer close(s.read)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "quire-hook serve: listening on "); ok {
				select {
				case listening <- u:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(s.exitedCh)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.exitedCh
		<-s.read
	})
	select {
	case s.URL = <-listening:
	case <-s.exitedCh:
		<-s.read
		t.Fatalf("quire-hook %v exited (%v) before listening:\n%s", args, cmd.ProcessState, s.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("quire-hook %v did not say where it listens within 20 s:\n%s", args, s.output())
	}
	return s
}

// output is what the process printed so far.
func (s *serveProc) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// stop sends SIGTERM and waits at most d for the process to exit; it
// returns the exit code, or -1 when the process had to be killed.
func (s *serveProc) stop(d time.Duration) int {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exitedCh:
	case <-time.After(d):
		s.t.Errorf("quire-hook serve still runs %v after SIGTERM", d)
		s.cmd.Process.Kill()
		<-s.exitedCh
		return -1
	}
	<-s.read
	return s.cmd.ProcessState.ExitCode()
}

// get fetches path (relative to URL) and returns the response's status
// and body, at most 8 MiB of it.
func (s *serveProc) get(path string) (int, string) {
	s.t.Helper()
	return s.do(http.MethodGet, path)
}

// do sends a request with method to path and returns the status and body.
func (s *serveProc) do(method, path string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.URL+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, string(body)
}
