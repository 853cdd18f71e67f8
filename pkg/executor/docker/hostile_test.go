package docker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/dockerapi"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/docker"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
)

// TestDocker_HostileImage: a ci.image that is not an image reference
// fails the run with one line naming it, before any engine is asked.
func TestDocker_HostileImage(t *testing.T) {
	for _, image := range []string{
		"--privileged", "../x", "a b", "alpine\nrm -rf /", "a?fromSrc=-", "a/../../containers/x/json",
		strings.Repeat("a", 10<<10), "Alpine",
	} {
		f := newFixture(t)
		f.spec.Image = image
		ex, err := docker.New(docker.Options{Host: "unix:///nonexistent/docker.sock"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ex.Start(t.Context(), f.spec)
		if err == nil {
			s.Close(context.Background())
			t.Fatalf("image %.40q: Start succeeded", image)
		}
		if msg := err.Error(); !strings.Contains(msg, "is not an image reference") || !strings.Contains(msg, "ci.image") ||
			strings.Contains(msg, "\n") || len(msg) > 400 {
			t.Errorf("image %.40q: error %.500q", image, msg)
		}
	}
	// A digest and a registry with a port are references: the engine is
	// asked (and here it lacks them).
	dockertest.Engine(t)
	for _, image := range []string{"quire-test/absent@sha256:" + strings.Repeat("ab", 32), "localhost:1/quire-test/absent:1"} {
		f := newFixture(t)
		f.spec.Image = image
		ex, _ := docker.New(docker.Options{Pull: docker.PullNever})
		if _, err := ex.Start(t.Context(), f.spec); err == nil || !strings.Contains(err.Error(), "is not on the docker engine") {
			t.Errorf("image %s: %v", image, err)
		}
	}
}

// TestDocker_Hardening: what a hostile job tries in its container.
func TestDocker_Hardening(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{})
	j := job(t, s)
	defer j.Close()
	fails := func(t *testing.T, what, script string) {
		t.Helper()
		if res, out, _, _ := f.sh(t.Context(), t, j, time.Minute, script); res.Exit == 0 {
			t.Errorf("a job could %s: %q", what, out)
		}
	}
	t.Run("NoNewPrivileges", func(t *testing.T) {
		// A setuid binary of the image cannot give a job another uid
		// (the keeper's, out of reach of the kill at the job's end).
		if out := f.must(t, j, "grep NoNewPrivs /proc/self/status"); out != "NoNewPrivs:\t1\n" {
			t.Errorf("got %q", out)
		}
	})
	t.Run("NoDevices", func(t *testing.T) {
		fails(t, "make a device", "mknod /tmp/sda b 8 0")
		fails(t, "read the host's disk", "ls /dev/sda /dev/vda /dev/nvme0n1 2>/dev/null | grep .")
	})
	t.Run("NoEnvironOfOthers", func(t *testing.T) {
		fails(t, "read the init's environment", "cat /proc/1/environ")
		fails(t, "see a process of the host", "ls /proc | grep -x "+fmt.Sprint(os.Getpid()))
	})
	t.Run("ReadOnlyKernel", func(t *testing.T) {
		fails(t, "write /proc/sys", "echo 1 > /proc/sys/kernel/sysrq")
		fails(t, "write /sys", "echo 1 > /sys/kernel/profiling")
	})
	t.Run("PidsLimit", func(t *testing.T) {
		if out := f.must(t, j, "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"); out != fmt.Sprintf("%d\n", docker.DefaultPidsLimit) {
			t.Errorf("pids.max %q, want %d", out, docker.DefaultPidsLimit)
		}
	})
}

// TestDocker_ForkBomb: a job cannot make more processes than the pids
// limit, and what it made dies with the job.
func TestDocker_ForkBomb(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{PidsLimit: 40})
	j := job(t, s)
	token := newToken()
	res, _, _, err := f.sh(t.Context(), t, j, time.Minute,
		"i=0; while [ $i -lt 100 ]; do setsid sleep "+token+" </dev/null >/dev/null 2>&1 & i=$((i+1)); done")
	if err != nil {
		t.Fatalf("exec: %v (%+v)", err, res)
	}
	if n := len(sleepers(token)); n == 0 || n >= 40 {
		t.Errorf("%d sleeps run on the host, want some, fewer than the limit of 40", n)
	}
	if err := j.Close(); err != nil {
		t.Errorf("job close: %v", err)
	}
	if left := sleepers(token); len(left) > 0 {
		t.Errorf("after the job's end sleep %s still runs: %v", token, left)
	}
}

// TestDocker_SilentProcess: a process that closes its output and keeps
// working (exec >build.log 2>&1) is waited for, however long it works;
// its exit status is the call's. (The engine keeps the stream open
// until the process exits, also when its pipes closed long before: a
// sleep longer than the 30 s the executor gives a killed exec to end
// passes too.)
func TestDocker_SilentProcess(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{})
	j := job(t, s)
	defer j.Close()
	res, _, _, err := f.sh(t.Context(), t, j, time.Minute, "exec >/dev/null 2>&1; sleep 2; exit 5")
	if err != nil || res.Exit != 5 {
		t.Errorf("got %+v, %v; want exit 5", res, err)
	}
}

// TestDocker_ContainerRemoved: the run's container removed under the
// runner's feet fails the call and the next job with the reason, and
// Close still succeeds.
func TestDocker_ContainerRemoved(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{})
	j := job(t, s)
	id, _ := s.Container()
	token := newToken()
	errc := make(chan error, 1)
	go func() {
		res, _, _, err := f.sh(t.Context(), t, j, time.Minute, "echo started; sleep "+token)
		t.Logf("exec in the removed container: %+v, %v", res, err)
		errc <- err
	}()
	waitFor(t, func() bool { return len(sleepers(token)) > 0 })
	if err := dockertest.Engine(t).RemoveContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "is gone") && !strings.Contains(err.Error(), "is no longer running") {
		t.Errorf("exec in a removed container: %v", err)
	}
	j.Close()
	if _, err := s.Job(t.Context(), "next"); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("next job: %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestDocker_EngineFrozen: an engine that stops answering mid-call
// (it keeps its connections but says nothing) fails the call and the
// session's close, each within bounds; the job's processes are killed
// from the host.
func TestDocker_EngineFrozen(t *testing.T) {
	dockertest.Engine(t)
	p := newProxy(t, strings.TrimPrefix(dockerapi.Host(""), "unix://"))
	f := newFixture(t)
	s := f.start(t, docker.Options{Host: "unix://" + p.sock, CallTimeout: 3 * time.Second})
	j := job(t, s)
	id, _ := s.Container()
	t.Cleanup(func() { dockertest.Engine(t).RemoveContainer(context.Background(), id) })
	f.must(t, j, "true")

	token := newToken()
	errc := make(chan error, 1)
	go func() {
		// 5 s: the sleep must be seen on the host and the engine frozen
		// before the call's own timeout kills it the ordinary way.
		_, _, _, err := f.sh(t.Context(), t, j, 5*time.Second, "sleep "+token)
		errc <- err
	}()
	waitFor(t, func() bool { return len(sleepers(token)) > 0 })
	p.freeze()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("exec on a frozen engine: %v", err)
	}
	// The engine runs on this host: its processes are killed from here.
	if left := sleepers(token); len(left) > 0 {
		t.Errorf("sleep %s still runs on the host: %v", token, left)
	}
	if err := j.Close(); err != nil {
		t.Errorf("job close on a frozen engine: %v", err)
	}
	if err := s.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "docker rm -f") {
		t.Errorf("session close on a frozen engine: %v", err)
	}
}

// proxy relays a unix socket to the engine's until frozen: then it
// holds every connection open and relays nothing.
type proxy struct {
	sock   string
	frozen chan struct{}
	done   chan struct{} // closed at the test's end: hold no more
	once   sync.Once
}

func newProxy(t *testing.T, engine string) *proxy {
	t.Helper()
	p := &proxy{sock: filepath.Join(t.TempDir(), "p.sock"), frozen: make(chan struct{}), done: make(chan struct{})}
	l, err := net.Listen("unix", p.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); close(p.done) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.relay(c, engine)
		}
	}()
	return p
}

func (p *proxy) freeze() { p.once.Do(func() { close(p.frozen) }) }

// hold blocks while the proxy is frozen, until the test's end.
func (p *proxy) hold() {
	select {
	case <-p.frozen:
		<-p.done
	default:
	}
}

func (p *proxy) relay(c net.Conn, engine string) {
	defer c.Close()
	e, err := net.Dial("unix", engine)
	if err != nil {
		return
	}
	defer e.Close()
	copyUntilFrozen := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			p.hold() // when frozen: hold the connection, say nothing
			if n > 0 {
				dst.Write(buf[:n])
			}
			if err != nil {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok && errors.Is(err, io.EOF) {
					cw.CloseWrite()
				}
				return
			}
		}
	}
	go copyUntilFrozen(e, c)
	copyUntilFrozen(c, e)
	p.hold()
}

// newToken is a sleep duration no other process on the host sleeps.
func newToken() string {
	return fmt.Sprintf("%d.%d", 300+os.Getpid()%100, time.Now().UnixNano()%1e9)
}

// waitFor waits, within a bound, until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countWriter counts what it is given and keeps nothing.
type countWriter struct{ n, ff int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	for _, b := range p {
		if b == 0xff {
			c.ff++
		}
	}
	return len(p), nil
}

// TestDocker_HugeOutput: output far larger than memory should hold,
// binary, never a newline, on both streams at once, arrives whole and
// is never held whole.
func TestDocker_HugeOutput(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{})
	j := job(t, s)
	defer j.Close()
	const n = 128 << 20
	var out, errs countWriter
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := j.Exec(t.Context(), executor.Proc{
		Argv: []string{"sh", "-c", fmt.Sprintf("head -c %d /dev/zero | tr '\\0' '\\377' & head -c %d /dev/zero | tr '\\0' '\\377' >&2; wait", n, n/2)},
		Dir:  f.spec.Dir.Workspace(), Env: []string{"PATH=/bin", "HOME=/tmp"}, Stdout: &out, Stderr: &errs, Timeout: time.Minute,
	})
	runtime.ReadMemStats(&after)
	if err != nil || res.Exit != 0 {
		t.Fatalf("got %+v, %v", res, err)
	}
	if out.n != n || out.ff != n || errs.n != n/2 || errs.ff != n/2 {
		t.Errorf("stdout %d bytes (%d 0xff), stderr %d (%d); want %d and %d of 0xff", out.n, out.ff, errs.n, errs.ff, n, n/2)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > n/8 {
		t.Errorf("the exec allocated %d MiB for %d MiB of output", d>>20, (n+n/2)>>20)
	}
}

// TestDocker_SecretNotInEngineErrors: an exec the engine would refuse
// for a NUL in its environment cannot make the engine repeat the
// variable, secret value included and escaped past redaction, in the
// call's start error.
func TestDocker_SecretNotInEngineErrors(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{})
	j := job(t, s)
	defer j.Close()
	const secret = "s3cret-token-value"
	res, err := j.Exec(t.Context(), executor.Proc{
		Argv: []string{"true"}, Dir: f.spec.Dir.Workspace(),
		Env:    []string{"PATH=/bin", "HOME=/tmp", "TOKEN=" + secret + "\x00tail", "=" + secret},
		Stdout: io.Discard, Stderr: io.Discard, Timeout: time.Minute,
	})
	if err != nil || res.Exit != 127 || res.StartErr == nil {
		t.Errorf("got %+v, %v; want exit 127 and a start error", res, err)
	}
	for _, e := range []error{err, res.StartErr} {
		if e != nil && strings.Contains(e.Error(), secret) {
			t.Errorf("the error repeats the secret: %v", e)
		}
	}
}

// TestDocker_ColonInPaths: a data root or bare repository whose path
// holds a colon (or a comma) is mounted like any other, not misread as
// a mount's fields.
func TestDocker_ColonInPaths(t *testing.T) {
	base := filepath.Join(t.TempDir(), "a:b,c=d")
	git := filepath.Join(base, "repo:x.git")
	root := datadir.Root(filepath.Join(git, "quire"))
	id := fmt.Sprintf("docker-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	f := &fixture{root: root, spec: executor.RunSpec{RunID: id, Repo: "repo:x.git", Dir: root.Run(id), GitDir: git, Image: dockertest.Image}}
	if err := os.MkdirAll(f.spec.Dir.Workspace(), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(git, "to:ken")
	for path, data := range map[string]string{root.DB(): "db", secret: "s3cret-value", filepath.Join(git, "HEAD"): "ref: refs/heads/main\n"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := f.start(t, docker.Options{Masks: []string{string(root), secret}})
	j := job(t, s)
	defer j.Close()
	ws := f.spec.Dir.Workspace()
	if out := f.must(t, j, "cat '"+git+"/HEAD' '"+secret+"'; echo w > '"+ws+"/f' && cat '"+ws+"/f'"); out != "ref: refs/heads/main\nw\n" {
		t.Errorf("bare repo, masked secret, workspace: %q", out)
	}
	if res, out, _, _ := f.sh(t.Context(), t, j, time.Minute, "ls -a '"+root.DB()+"'"); res.Exit == 0 {
		t.Errorf("a job can see the database: %q", out)
	}
}

// TestDocker_HostileImageConfig: what an image says of how to run it
// (entrypoint, user, working directory, environment, a health check)
// does not change how a job runs; an image's health check, which would
// run as the keeper's uid beyond the reach of the kill at a job's end,
// never runs.
func TestDocker_HostileImageConfig(t *testing.T) {
	f := newFixture(t)
	f.spec.Image = dockertest.HostileImage(t)
	s := f.start(t, docker.Options{})
	j := job(t, s)
	defer j.Close()
	if out := f.must(t, j, "id -u; pwd; echo ${LD_PRELOAD-unset}"); out != fmt.Sprintf("%d\n%s\nunset\n", os.Getuid(), f.spec.Dir.Workspace()) {
		t.Errorf("uid, directory, LD_PRELOAD: %q", out)
	}
	// The health check would have run within its 1 s interval.
	f.must(t, j, "sleep 3")
	if n := len(sleepers("7777")); n > 0 {
		t.Errorf("the image's health check runs: %d sleeps", n)
	}
}
