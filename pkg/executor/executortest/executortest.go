// Package executortest is the conformance table every executor passes:
// one subtest per rule of the executor package's contract. An
// executor's own tests call Run with a constructor; nothing else is
// needed to hold a new executor to the contract.
//
// The tests run real processes (sh, env, cat, sleep, setsid from the
// host's PATH) and find them in the host's /proc by their command
// line, so they run where the executor's processes are visible from the
// test, one after the other: an executor that reaps every child of the
// test binary must not race other tests.
package executortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/executor"
)

// bound is how long a test waits for something that should happen at
// once before it fails; never a measure of speed.
const bound = 30 * time.Second

// Run runs the conformance table against the executors newExecutor
// makes, one per subtest, for runs whose pipeline names no image.
func Run(t *testing.T, newExecutor func(t *testing.T) executor.Executor) {
	RunWithImage(t, "", newExecutor)
}

// RunWithImage is Run for runs whose pipeline names image (ci.image),
// for an executor that needs one. The image must have sh, env, cat,
// readlink, sleep and setsid.
func RunWithImage(t *testing.T, image string, newExecutor func(t *testing.T) executor.Executor) {
	for _, c := range []struct {
		name string
		test func(t *testing.T, f *fixture)
	}{
		{"EnvIsExactlyProcEnv", testEnv},
		{"ProgramFromPathOfEnv", testPathOfEnv},
		{"Dir", testDir},
		{"Stdin", testStdin},
		{"StdinDevNull", testStdinDevNull},
		{"SeparateStreams", testSeparateStreams},
		{"Streaming", testStreaming},
		{"ExitStatus", testExitStatus},
		{"SignalIsMinusN", testSignal},
		{"MissingProgram", testMissingProgram},
		{"Timeout", testTimeout},
		{"PipeGrace", testPipeGrace},
		{"CancelKillsAndReturnsCause", testCancel},
		{"JobCloseLeavesNoSurvivors", testJobClose},
		{"SessionCloseLeavesNoSurvivors", testSessionClose},
		{"NoSecretInArgvOrEnv", testNoSecret},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, newExecutor(t), image)
			c.test(t, f)
		})
	}
}

func testEnv(t *testing.T, f *fixture) {
	f.env = append(f.env, "QUIRE_TEST_A=one", "QUIRE_TEST_B=two words", "EMPTY=")
	var out output
	res := f.exec(executor.Proc{Argv: []string{"env"}, Dir: f.ws, Env: f.env, Stdout: &out.stdout, Stderr: &out.stderr})
	if res.Exit != 0 {
		t.Fatalf("env exit %d: %s", res.Exit, out.stderr.String())
	}
	var got []string
	for _, kv := range strings.Split(strings.TrimSuffix(out.stdout.String(), "\n"), "\n") {
		// bwrap names the working directory, as a shell would.
		if pwd, ok := strings.CutPrefix(kv, "PWD="); ok && sameDir(pwd, f.ws) {
			continue
		}
		got = append(got, kv)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(f.env))
	if !slices.Equal(got, want) {
		t.Errorf("environment:\n got %q\nwant %q", got, want)
	}
}

// sameDir reports whether a and b are the same directory.
func sameDir(a, b string) bool {
	ra, erra := filepath.EvalSymlinks(a)
	rb, errb := filepath.EvalSymlinks(b)
	return erra == nil && errb == nil && ra == rb
}

func testPathOfEnv(t *testing.T, f *fixture) {
	bin := filepath.Join(f.ws, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "quire-test-prog"), []byte("#!/bin/sh\necho found\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.env[0] = "PATH=" + bin + ":" + os.Getenv("PATH")
	var out output
	res := f.exec(executor.Proc{Argv: []string{"quire-test-prog"}, Dir: f.ws, Env: f.env, Stdout: &out.stdout, Stderr: &out.stderr})
	if res.Exit != 0 || out.stdout.String() != "found\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want the program found in Proc.Env's PATH", res.Exit, out.stdout.String(), out.stderr.String())
	}
}

func testDir(t *testing.T, f *fixture) {
	sub := filepath.Join(f.ws, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	var out output
	p := f.proc("pwd -P", &out)
	p.Dir = sub
	f.exec(p)
	want, _ := filepath.EvalSymlinks(sub)
	if got := out.stdout.String(); got != want+"\n" {
		t.Errorf("pwd = %q, want %q", got, want+"\n")
	}
}

func testStdin(t *testing.T, f *fixture) {
	var out output
	p := f.proc("cat", &out)
	p.Stdin = "line one\nline two"
	f.exec(p)
	if got := out.stdout.String(); got != p.Stdin {
		t.Errorf("stdout = %q, want stdin back %q", got, p.Stdin)
	}
}

func testStdinDevNull(t *testing.T, f *fixture) {
	var out output
	f.exec(f.proc("readlink /proc/self/fd/0; cat", &out))
	if got := out.stdout.String(); got != "/dev/null\n" {
		t.Errorf("stdin is %q, want /dev/null", got)
	}
}

func testSeparateStreams(t *testing.T, f *fixture) {
	var out output
	f.exec(f.proc("echo out1; echo err1 >&2; echo out2; echo err2 >&2", &out))
	if got, want := out.stdout.String(), "out1\nout2\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := out.stderr.String(), "err1\nerr2\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

// testStreaming: the first write reaches Proc.Stdout while the process
// still runs, waiting for the test to see it.
func testStreaming(t *testing.T, f *fixture) {
	var out output
	p := f.proc("echo first; "+waitRelease+"; echo second", &out)
	seen := make(chan struct{})
	p.Stdout = &notify{w: &out.stdout, first: seen}
	done := f.start(t.Context(), p)
	select {
	case <-seen:
	case r := <-done:
		t.Fatalf("exec returned (%+v, %v) before the test saw its first write", r.res, r.err)
	case <-time.After(bound):
		t.Fatalf("the first write did not arrive while the process ran")
	}
	if got := out.stdout.String(); got != "first\n" {
		t.Errorf("streamed %q, want %q", got, "first\n")
	}
	f.release()
	r := f.wait(done)
	if r.err != nil || r.res.Exit != 0 || out.stdout.String() != "first\nsecond\n" {
		t.Errorf("exec = %+v, %v, stdout %q", r.res, r.err, out.stdout.String())
	}
}

func testExitStatus(t *testing.T, f *fixture) {
	var out output
	if res := f.exec(f.proc("exit 3", &out)); res.Exit != 3 || res.StartErr != nil {
		t.Errorf("exit 3: result %+v", res)
	}
	if res := f.exec(f.proc("true", &out)); res.Exit != 0 {
		t.Errorf("true: result %+v, stderr %q", res, out.stderr.String())
	}
}

func testSignal(t *testing.T, f *fixture) {
	var out output
	if res := f.exec(f.proc("kill -9 $$", &out)); res.Exit != -9 {
		t.Errorf("kill -9 $$: exit %d, want -9", res.Exit)
	}
	if res := f.exec(f.proc("kill -TERM $$", &out)); res.Exit != -15 {
		t.Errorf("kill -TERM $$: exit %d, want -15", res.Exit)
	}
}

func testMissingProgram(t *testing.T, f *fixture) {
	for _, argv := range [][]string{{"quire-no-such-program"}, {"/no/such/dir/prog"}} {
		var out output
		res := f.exec(executor.Proc{Argv: argv, Dir: f.ws, Env: f.env, Stdout: &out.stdout, Stderr: &out.stderr})
		if res.Exit != 127 || res.StartErr == nil {
			t.Errorf("%q: result %+v, want exit 127 with StartErr", argv, res)
		}
	}
}

func testTimeout(t *testing.T, f *fixture) {
	token := sleepToken()
	var out output
	p := f.proc("exec sleep "+token, &out)
	p.Timeout = 200 * time.Millisecond
	res, err := f.job.Exec(t.Context(), p)
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if !res.TimedOut {
		t.Errorf("result %+v, want TimedOut", res)
	}
	if left := f.waitGone(sleepers(token)); len(left) > 0 {
		t.Errorf("the timed-out process is still alive: pids %v", left)
	}
}

// testPipeGrace: a background child holding the pipes open cannot hold
// the call past the pipe grace; it dies when the job ends.
func testPipeGrace(t *testing.T, f *fixture) {
	token := sleepToken()
	var out output
	r := f.wait(f.start(t.Context(), f.proc("sleep "+token+" & echo done", &out)))
	if r.err != nil || r.res.Exit != 0 || r.res.TimedOut {
		t.Errorf("exec = %+v, %v; want exit 0", r.res, r.err)
	}
	if got := out.stdout.String(); got != "done\n" {
		t.Errorf("stdout = %q, want %q", got, "done\n")
	}
	pids := sleepers(token) // none where the sandbox died with the call
	if err := f.job.Close(); err != nil {
		t.Errorf("job close: %v", err)
	}
	if left := alive(pids); len(left) > 0 {
		t.Errorf("the background child outlived its job: pids %v", left)
	}
}

func testCancel(t *testing.T, f *fixture) {
	token := sleepToken()
	cause := errors.New("quire-test cancel")
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	var out output
	done := f.start(ctx, f.proc("exec sleep "+token, &out))
	pids := f.waitSleepers(token, done, &out)
	cancel(cause)
	r := f.wait(done)
	if !errors.Is(r.err, cause) {
		t.Errorf("exec error = %v, want the context's cause %q", r.err, cause)
	}
	if left := f.waitGone(pids); len(left) > 0 {
		t.Errorf("the process outlived the cancel: pids %v", left)
	}
}

func testJobClose(t *testing.T, f *fixture) {
	pids := f.survivors()
	if err := f.job.Close(); err != nil {
		t.Errorf("job close: %v", err)
	}
	if left := alive(pids); len(left) > 0 {
		t.Errorf("processes outlived Job.Close: pids %v", left)
	}
}

func testSessionClose(t *testing.T, f *fixture) {
	pids := f.survivors()
	if err := f.sess.Close(t.Context()); err != nil {
		t.Errorf("session close: %v", err)
	}
	if left := alive(pids); len(left) > 0 {
		t.Errorf("processes outlived Session.Close: pids %v", left)
	}
	_ = f.job.Close() // after the session's end: must not hang or panic
}

// testNoSecret: a secret the pipeline passed in Proc.Env is in the
// argv of no process, and in the environment only of processes that
// got the whole of Proc.Env.
func testNoSecret(t *testing.T, f *fixture) {
	secret := fmt.Sprintf("quire-conformance-s3cret-%d", rand.Int64())
	mark := "QUIRE_TEST_JOB_ENV=" + f.runID
	f.env = append(f.env, "TOKEN="+secret, mark)
	token := sleepToken()
	var out output
	done := f.start(t.Context(), f.proc("sleep "+token+" >/dev/null 2>&1 & "+waitRelease, &out))
	f.waitSleepers(token, done, &out)
	for _, pid := range pids() {
		if pid == os.Getpid() {
			continue
		}
		argv := readNul(pid, "cmdline")
		if slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, secret) }) {
			t.Errorf("pid %d has the secret in its argv: %q", pid, argv)
		}
		env := readNul(pid, "environ")
		if slices.ContainsFunc(env, func(kv string) bool { return strings.Contains(kv, secret) }) && !slices.Contains(env, mark) {
			t.Errorf("pid %d (%q) has the secret in an environment the executor made", pid, argv)
		}
	}
	f.release()
	f.wait(done)
}

// syncBuffer is a bytes.Buffer safe for the executor's writer goroutine
// and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// notify passes writes on and closes first after the first one.
type notify struct {
	w     *syncBuffer
	first chan struct{}
	once  sync.Once
}

func (n *notify) Write(p []byte) (int, error) {
	k, err := n.w.Write(p)
	n.once.Do(func() { close(n.first) })
	return k, err
}
