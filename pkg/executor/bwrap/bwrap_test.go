package bwrap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/executortest"
)

// needBwrap skips a test where bubblewrap is not installed.
func needBwrap(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap (bwrap) is not installed; .ci/run installs it")
	}
}

func TestBwrap_Conformance(t *testing.T) {
	needBwrap(t)
	executortest.Run(t, func(t *testing.T) executor.Executor {
		b, err := New(false, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestBwrap_ConformanceWithoutStatusFd: where bwrap has no
// --json-status-fd (before 0.5.0), calls behave the same, but for
// setup races, which then fail the call.
func TestBwrap_ConformanceWithoutStatusFd(t *testing.T) {
	needBwrap(t)
	executortest.Run(t, func(t *testing.T) executor.Executor {
		b, err := New(false, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.StatusFd = false
		return b
	})
}

func TestBwrap_BindErrors(t *testing.T) {
	needBwrap(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(filepath.Join(data, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := New(false, "", []string{data})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, path, want string }{
		{"Missing", filepath.Join(root, "nope"), "bind " + filepath.Join(root, "nope") + " does not exist; create it"},
		{"Relative", "cache", "not an absolute path"},
		{"InsideMask", filepath.Join(data, "cache"), "is inside " + data + ", which jobs must not see"},
		{"Mask", data, "is inside " + data},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Bind(tt.path, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v, want one line containing %q", err, tt.want)
			}
		})
	}
	if len(b.binds) != 0 {
		t.Errorf("refused binds were kept: %v", b.binds)
	}
}

// TestBwrap_Mounts checks the mount plan of the default layout: outermost
// first, masks already hidden left out, the data root read-only last.
func TestBwrap_Mounts(t *testing.T) {
	t.Parallel()
	root := varTempDir(t)
	bare := filepath.Join(root, "repo.git")
	data := filepath.Join(bare, "quire")
	ws := filepath.Join(data, "runs", "r1", "workspace")
	inTmp := filepath.Join(t.TempDir(), "secret")
	secret := filepath.Join(root, "secret")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, secret, "x")
	writeFile(t, inTmp, "x")
	writeFile(t, filepath.Join(data, "config.lua"), "return {}")

	got := strings.Join(mounts(bare, ws, []string{
		filepath.Join(data, "config.lua"), // inside the masked data root
		inTmp,                             // inside the private /tmp
		filepath.Join(root, "missing"),
		data, secret, "",
	}, nil), " ")
	want := strings.Join([]string{
		"--dev /dev --proc /proc --tmpfs /tmp",
		"--ro-bind " + bare + " " + bare,
		"--ro-bind /dev/null " + secret,
		"--tmpfs " + data,
		"--bind " + ws + " " + ws,
		"--remount-ro " + data,
	}, " ")
	if got != want {
		t.Errorf("mounts:\n got %s\nwant %s", got, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// varTempDir is a temporary directory outside /tmp, which the sandbox
// hides.
func varTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "quire-bwrap-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestBwrap_Contained: even without a cgroup, what a call leaves running
// out of its process group and without its environment dies with the
// call's pid namespace, so the session vouches for it after Close.
func TestBwrap_Contained(t *testing.T) {
	needBwrap(t)
	b, err := New(false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Host.NoCgroup = true
	s, j, ws := openJob(t, b)
	var out strings.Builder
	res, err := j.Exec(t.Context(), executor.Proc{
		Argv:   []string{"sh", "-c", `env -i setsid sh -c 'sleep 1; echo pwned > "$1/pwned"' sh "$PWD" >/dev/null 2>&1 &`},
		Dir:    ws,
		Env:    []string{"PATH=" + os.Getenv("PATH")},
		Stdout: &out, Stderr: &out,
	})
	if err != nil || res.Exit != 0 {
		t.Fatalf("exec: %+v, %v\n%s", res, err, out.String())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	c := s.(executor.Contained)
	if c.Contained() {
		t.Error("Contained before Close = true, want false")
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !c.Contained() {
		t.Error("Contained after Close = false, want true")
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Lstat(filepath.Join(ws, "pwned")); !os.IsNotExist(err) {
		t.Errorf("a process the call left behind outlived the session: pwned exists (%v)", err)
	}
}

// openJob starts a session of b on a fresh run directory and opens a
// job in it; it returns them and the run's workspace. The run id is
// one no other test, in this process or another, uses: the host
// executor kills what a session leaves by a marker made from it.
func openJob(t *testing.T, b *Executor) (executor.Session, executor.Job, string) {
	t.Helper()
	runID := fmt.Sprintf("bwrap-test-%d-%d", os.Getpid(), rand.Int64())
	dir := datadir.Root(t.TempDir()).Run(runID)
	ws := dir.Workspace()
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := b.Start(t.Context(), executor.RunSpec{RunID: runID, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	j, err := s.Job(t.Context(), "j")
	if err != nil {
		t.Fatal(err)
	}
	return s, j, ws
}
