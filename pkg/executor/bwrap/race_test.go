package bwrap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
)

// raceChildEnv marks the test binary that TestBwrap_SetupRace runs in a
// mount namespace of its own.
const raceChildEnv = "QUIRE_TEST_BWRAP_RACE_CHILD"

// TestBwrap_SetupRace: where the root mount is shared (systemd's
// default), mounts that come and go while bwrap sets up its sandbox make
// the setup fail ("Can't bind mount /oldroot/ on /newroot/"): containers
// starting and other hooks' overlay workspaces do that. Every call must
// still run exactly once, and its log shows nothing of the attempts that
// lost the race. It failed about every other call before bwrap's setup
// was retried.
func TestBwrap_SetupRace(t *testing.T) {
	needBwrap(t)
	if os.Getenv(raceChildEnv) == "" {
		// The churn below happens in a mount namespace of the test's
		// own, so that it reaches no other test's sandboxes.
		cmd := exec.Command(os.Args[0], "-test.run=^TestBwrap_SetupRace$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), raceChildEnv+"=1")
		cmd.SysProcAttr = &unix.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
		out, err := cmd.CombinedOutput()
		if errors.Is(err, unix.EPERM) {
			t.Skip("no CAP_SYS_ADMIN: cannot make a mount namespace for the mount churn")
		}
		if err != nil {
			t.Fatalf("the test in its own mount namespace: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("--- PASS: TestBwrap_SetupRace")) {
			t.Fatalf("the test in its own mount namespace did not pass:\n%s", out)
		}
		t.Logf("in its own mount namespace:\n%s", out)
		return
	}

	// A shared mount, as / is under systemd, with mounts coming and going
	// below it until the test ends.
	shared := t.TempDir()
	if err := unix.Mount(shared, shared, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", shared, err)
	}
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("make %s shared: %v", shared, err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		churn(t, shared, stop)
	}()
	defer func() {
		close(stop)
		wg.Wait()
		_ = unix.Unmount(shared, unix.MNT_DETACH)
	}()

	b, err := New(false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := datadir.Root(t.TempDir()).Run("race")
	ws := dir.Workspace()
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := b.Start(t.Context(), executor.RunSpec{RunID: "race", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	j, err := s.Job(t.Context(), "j")
	if err != nil {
		t.Fatal(err)
	}
	// Until enough attempts lost the race to show it was run into, and
	// handled, and a bound on calls beyond which the test proves nothing.
	retried := setupRetries.Load()
	calls := 0
	for ; calls < 400 && setupRetries.Load()-retried < 10; calls++ {
		var stdout, stderr bytes.Buffer
		res, err := j.Exec(t.Context(), executor.Proc{
			Argv: []string{"sh", "-c", "echo ran >> count; echo ok"}, Dir: ws,
			Env: []string{"PATH=" + os.Getenv("PATH")}, Stdout: &stdout, Stderr: &stderr,
		})
		if err != nil || res.Exit != 0 || stdout.String() != "ok\n" || stderr.Len() > 0 {
			t.Fatalf("call %d: %+v, %v; stdout %q, stderr %q", calls, res, err, stdout.String(), stderr.String())
		}
	}
	got := setupRetries.Load() - retried
	t.Logf("%d calls, %d attempts lost the race", calls, got)
	if got == 0 {
		t.Errorf("no attempt of %d calls lost the race: the churn did not reach bwrap's setup, so the test proved nothing", calls)
	}
	count, err := os.ReadFile(filepath.Join(ws, "count"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(count), "ran\n"); n != calls {
		t.Errorf("the commands ran %d times in %d calls", n, calls)
	}
}

// churn mounts and unmounts tmpfs file systems below dir until stop is
// closed.
func churn(t *testing.T, dir string, stop <-chan struct{}) {
	var points []string
	for i := range 20 {
		p := filepath.Join(dir, fmt.Sprintf("m%d", i))
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Error(err)
			return
		}
		points = append(points, p)
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		for _, p := range points {
			if err := unix.Mount("quire-churn", p, "tmpfs", 0, "size=64k"); err != nil {
				t.Errorf("mount %s: %v", p, err)
				return
			}
		}
		for _, p := range points {
			if err := unix.Unmount(p, 0); err != nil {
				t.Errorf("unmount %s: %v", p, err)
				return
			}
		}
	}
}

// TestBwrap_RaceLineFromCommand: a command that itself writes bwrap's
// setup-race line and fails ran all the same (bwrap's status says so),
// so it is neither started again nor loses the line.
func TestBwrap_RaceLineFromCommand(t *testing.T) {
	needBwrap(t)
	b, err := New(false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := datadir.Root(t.TempDir()).Run("mimic")
	ws := dir.Workspace()
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := b.Start(t.Context(), executor.RunSpec{RunID: "mimic", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	j, err := s.Job(t.Context(), "j")
	if err != nil {
		t.Fatal(err)
	}
	line := setupRace + `Unable to apply mount flags: remount "/newroot/x": Invalid argument` + "\n"
	for _, tt := range []struct{ name, script, stdout string }{
		{"Alone", `echo ran >> count; printf '%s' "$1" >&2; exit 1`, ""},
		{"Partial", `echo ran >> count; printf '%.20s' "$1" >&2; exit 1`, ""},
		{"ThenStdout", `echo ran >> count; printf '%s' "$1" >&2; echo out; exit 1`, "out\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(filepath.Join(ws, "count"))
			var stdout, stderr bytes.Buffer
			res, err := j.Exec(t.Context(), executor.Proc{
				Argv: []string{"sh", "-c", tt.script, "sh", line}, Dir: ws,
				Env: []string{"PATH=" + os.Getenv("PATH")}, Stdout: &stdout, Stderr: &stderr,
			})
			if err != nil || res.Exit != 1 || res.StartErr != nil {
				t.Errorf("result %+v, %v; want exit 1", res, err)
			}
			want := line
			if tt.name == "Partial" {
				want = line[:20]
			}
			if stderr.String() != want || stdout.String() != tt.stdout {
				t.Errorf("stderr %q, stdout %q; want %q, %q", stderr.String(), stdout.String(), want, tt.stdout)
			}
			if count, _ := os.ReadFile(filepath.Join(ws, "count")); string(count) != "ran\n" {
				t.Errorf("the command ran %q, want once", count)
			}
		})
	}
}
