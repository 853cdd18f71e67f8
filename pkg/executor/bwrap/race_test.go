package bwrap

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

	// bwrap binds / with the churn below it, and in GitDir also the bare
	// repository the churn is in, as other runs' overlay workspaces are
	// when the data root is inside the repository: either bind can lose.
	for _, tc := range []struct {
		name, gitDir string
		retries      int64 // lost attempts to see before stopping
	}{
		{"Root", "", 5},
		{"GitDir", shared, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(false, tc.gitDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, j, ws := openJob(t, b)
			// Until enough attempts lost the race to show it was run
			// into, and handled, and a bound on calls beyond which the
			// test proves nothing.
			retried := setupRetries.Load()
			calls := 0
			for ; calls < 400 && setupRetries.Load()-retried < tc.retries; calls++ {
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
		})
	}
}

// churnPause is churn's pause between rounds: without one about half
// of bwrap's setups lose the race, in streaks long enough to fail a call
// all ten times now and then.
var churnPause = 2 * time.Millisecond

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
		case <-time.After(churnPause):
		}
		for _, p := range points {
			if err := unix.Mount("quire-churn", p, "tmpfs", 0, "size=64k"); err != nil {
				t.Errorf("mount %s: %v", p, err)
				return
			}
		}
		for _, p := range points {
			// Detached: a sandbox that bound the parent holds a copy,
			// which makes a plain unmount fail with EBUSY, as
			// pkg/workspace's overlays handle too.
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
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
	_, j, ws := openJob(t, b)
	line := setupRace + ` on /newroot/` + setupRaceMark + `"/newroot/x": Invalid argument` + "\n"
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

// fakeBwrap is a stand-in for bwrap that loses setupRace on its first
// $QUIRE_FAKE_FAIL runs (counted in $QUIRE_FAKE_COUNT), each taking
// $QUIRE_FAKE_SLEEP seconds, and then runs the command after "--" in the
// --chdir directory and reports its exit code on the --json-status-fd,
// as bwrap does. The real race (TestBwrap_SetupRace) cannot be made to
// last a given number of attempts, or to outlast a timeout; this can.
const fakeBwrap = `#!/bin/sh
n=$(( $(cat "$QUIRE_FAKE_COUNT" 2>/dev/null || echo 0) + 1 ))
echo $n > "$QUIRE_FAKE_COUNT"
sleep "${QUIRE_FAKE_SLEEP:-0}"
if [ "$n" -le "$QUIRE_FAKE_FAIL" ]; then
  echo "bwrap: Can't bind mount /oldroot/ on /newroot/: Unable to apply mount flags: remount \"/newroot/m\": Invalid argument" >&2
  exit 1
fi
fd= dir=.
while [ "$1" != "--" ]; do
  case $1 in
  --json-status-fd) fd=$2; shift ;;
  --chdir) dir=$2; shift ;;
  esac
  shift
done
shift
cd "$dir" && "$@"
rc=$?
[ -n "$fd" ] && eval "echo '{ \"exit-code\": '$rc' }' >&$fd"
exit $rc
`

// TestBwrap_SetupRetries: how a call ends after attempts that lost the
// race, with the fake bwrap above.
func TestBwrap_SetupRetries(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bwrap")
	if err := os.WriteFile(path, []byte(fakeBwrap), 0o755); err != nil {
		t.Fatal(err)
	}
	raceLine := setupRace + ` on /newroot/` + setupRaceMark + `"/newroot/m": Invalid argument` + "\n"
	for _, tt := range []struct {
		name    string
		fail    int
		sleep   string
		timeout time.Duration
		cancel  bool
	}{
		{name: "LostTwice", fail: 2},
		{name: "LostAlways", fail: 1000},
		// The attempts share the call's timeout: the call ends before
		// its ten attempts.
		{name: "Timeout", fail: 1000, sleep: "0.1", timeout: 250 * time.Millisecond},
		{name: "CanceledMeanwhile", fail: 1000, cancel: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			count := filepath.Join(t.TempDir(), "count")
			b := &Executor{Path: path, StatusFd: true}
			b.Host.NoCgroup = true
			_, j, ws := openJob(t, b)
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			cause := errors.New("quire-test cancel")
			if tt.cancel {
				go func() {
					for attempts(count) < 3 {
						time.Sleep(time.Millisecond)
					}
					cancel(cause)
				}()
			}
			var stdout, stderr bytes.Buffer
			res, err := j.Exec(ctx, executor.Proc{
				Argv: []string{"sh", "-c", "echo ran >> ran; echo ok"}, Dir: ws, Timeout: tt.timeout,
				Env: []string{"PATH=" + os.Getenv("PATH"), "QUIRE_FAKE_COUNT=" + count, "QUIRE_FAKE_FAIL=" + strconv.Itoa(tt.fail),
					"QUIRE_FAKE_SLEEP=" + cmp.Or(tt.sleep, "0")},
				Stdout: &stdout, Stderr: &stderr,
			})
			ran, _ := os.ReadFile(filepath.Join(ws, "ran"))
			n := attempts(count)
			switch tt.name {
			case "LostTwice":
				if err != nil || res != (executor.Result{}) || stdout.String() != "ok\n" || stderr.Len() > 0 || n != 3 || string(ran) != "ran\n" {
					t.Errorf("%+v, %v; stdout %q, stderr %q, %d attempts, ran %q; want exit 0, ok, nothing on stderr, 3 attempts, ran once",
						res, err, stdout.String(), stderr.String(), n, ran)
				}
			case "LostAlways":
				// Could not start: bwrap's line once, in the log, and the reason.
				if err != nil || res.Exit != 127 || res.StartErr == nil || !strings.Contains(res.StartErr.Error(), "could not set up the sandbox in 10 attempts") ||
					stderr.String() != raceLine || n != maxSetupAttempts || len(ran) > 0 {
					t.Errorf("%+v, %v; stderr %q, %d attempts, ran %q; want exit 127 with the reason, the line once, %d attempts, never ran",
						res, err, stderr.String(), n, ran, maxSetupAttempts)
				}
			case "Timeout":
				if err != nil || !res.TimedOut && res.StartErr == nil || n >= maxSetupAttempts || len(ran) > 0 {
					t.Errorf("%+v, %v; %d attempts, ran %q; want the call timed out or not started, in fewer than %d attempts",
						res, err, n, ran, maxSetupAttempts)
				}
			case "CanceledMeanwhile":
				if !errors.Is(err, cause) || n >= maxSetupAttempts || len(ran) > 0 {
					t.Errorf("%+v, %v; %d attempts, ran %q; want the context's cause, fewer than %d attempts", res, err, n, ran, maxSetupAttempts)
				}
			}
		})
	}
}

// attempts is what the fake bwrap counted in file count.
func attempts(count string) int {
	b, _ := os.ReadFile(count)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
