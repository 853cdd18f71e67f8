package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/proc"
)

// runDeadline bounds a Run whose sh calls leave children behind; the
// runner waits executor.PipeGrace per such call, far below this.
const runDeadline = 60 * time.Second

// runBounded runs the pipeline in a goroutine and fails the test if the
// run has not returned within runDeadline.
func (h *harness) runBounded() *outcome {
	h.t.Helper()
	sha := h.commit("bounded")
	if out, err := h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main"); err != nil {
		h.t.Fatalf("push: %v\n%s", err, out)
	}
	r, push, src, progress := h.prepare(sha, pushSpec{})
	type ran struct {
		res Result
		err error
	}
	finished := make(chan ran, 1)
	go func() {
		res, err := r.Run(h.t.Context(), push, src)
		finished <- ran{res, err}
	}()
	select {
	case got := <-finished:
		if got.err != nil {
			h.t.Fatalf("run: %v", got.err)
		}
		return h.collect(got.res, sha, progress.String())
	case <-time.After(runDeadline):
		h.t.Fatalf("the run did not return within %s: a background child holds it", runDeadline)
		return nil
	}
}

func TestRunner_BackgroundChildren(t *testing.T) {
	t.Parallel()
	// With the run's cgroup, and without one, as where the hook may not
	// create cgroups (in a test binary, which is not the subreaper of
	// its own children alone, by process group and marker).
	for _, cgroup := range []bool{true, false} {
		name := map[bool]string{true: "Cgroup", false: "GroupAndMarker"}[cgroup]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if cgroup && !cgroupsHere(t) {
				t.Skip("needs a writable cgroup v2 hierarchy (root, or a delegated cgroup)")
			}
			testBackgroundChildren(t, cgroup)
		})
	}
}

func testBackgroundChildren(t *testing.T, cgroup bool) {
	pids := t.TempDir()
	h := newHarness(t, `
ci.job("bg", {"quire/push"}, function(q)
  local r1 = q.sh('sleep 30 & echo $! > "$PIDS/bg.pid"; echo started')
  local r2 = q.sh('(sleep 30 >/dev/null 2>&1 & echo $! > "$PIDS/sub.pid"); echo sub')
  local r3 = q.sh('setsid -f sh -c \'echo $$ > "$PIDS/setsid.tmp"; mv "$PIDS/setsid.tmp" "$PIDS/setsid.pid"; exec sleep 30\' >/dev/null 2>&1 </dev/null')
  q.sh('while [ ! -s "$PIDS/setsid.pid" ]; do sleep 0.01; done')
  -- Leaves the group and the session and sheds QUIRE_RUN_ID: only the
  -- run's cgroup still knows it (issue 7, bug 4).
  q.sh('(setsid env -i /bin/sleep 3333 >/dev/null 2>&1 </dev/null & echo $! > "$PIDS/envi.pid")')
  -- A child holding the stdin pipe, unread, with more queued than a pipe holds.
  local r4 = q.sh('exec 3<&0; sleep 30 <&3 >/dev/null 2>&1 & echo $! > "$PIDS/stdin.pid"', {stdin = string.rep("x", 300000)})
  -- Children left running serve the job's later calls.
  local alive = q.sh('for f in bg sub setsid stdin envi; do kill -0 $(cat "$PIDS/$f.pid") || exit 1; done')
  local sid = q.sh('ps -o sid= -p $(cat "$PIDS/setsid.pid")')
  return {r1 = r1.stdout, r2 = r2.stdout, r3 = r3.exit, r4 = r4.exit, alive = alive.exit, sid = sid.stdout}
end)
ci.job("next", {"bg"}, function(q) return {ok = q.sh("echo next").stdout} end)
`)
	h.Env = []string{"PIDS=" + pids}
	h.NoCgroup = !cgroup
	t.Cleanup(func() { killPidFiles(pids) })
	o := h.runBounded()

	t.Run("CallsReturn", func(t *testing.T) {
		o.wantState("bg", "complete")
		got := o.outputs("bg")
		if got["r1"] != "started\n" || got["r2"] != "sub\n" || got["r3"] != 0.0 || got["r4"] != 0.0 {
			t.Errorf("results = %v", got)
		}
		if got["alive"] != 0.0 {
			t.Errorf("children were not alive during the job (kill -0 exit %v)", got["alive"])
		}
		o.wantState("next", "complete")
		// The next job's processes start after what bg left was killed.
		if got := o.outputs("next")["ok"]; got != "next\n" {
			t.Errorf("next job's sh printed %q, want \"next\\n\" (was it killed with the last job's leftovers?)", got)
		}
	})
	t.Run("SetsidLeftTheSession", func(t *testing.T) {
		// Without this the escape test below proves nothing.
		sid, _ := o.outputs("bg")["sid"].(string)
		pid := readPid(t, filepath.Join(pids, "setsid.pid"))
		if strings.TrimSpace(sid) != fmt.Sprint(pid) {
			t.Errorf("setsid child session = %q, want its own (%d)", sid, pid)
		}
	})
	for _, name := range []string{"bg", "sub", "setsid", "stdin", "envi"} {
		t.Run("Killed/"+name, func(t *testing.T) {
			if name == "envi" && !cgroup {
				// Only a cgroup, or the hook as the subreaper of its own
				// subtree (hook/TestReplay_KillsWhatLeftTheTree), finds a
				// process that cleared its environment.
				return
			}
			pid := readPid(t, filepath.Join(pids, name+".pid"))
			// The hook is the subreaper of what a job orphans, so it must
			// reap them too: a zombie still answers kill(pid, 0).
			if !waitDead(pid, time.Second) {
				t.Errorf("pid %d (%s) outlived its job; state %s", pid, name, procState(pid))
			}
		})
	}
}

// killPidFiles kills whatever a failed test left running.
func killPidFiles(dir string) {
	for _, name := range []string{"bg", "sub", "setsid", "stdin", "envi"} {
		var pid int
		if _, err := fmt.Sscan(readFileOrEmpty(filepath.Join(dir, name+".pid")), &pid); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// cgroupsHere reports whether this process may create a cgroup v2 for a
// run, as the runner does.
func cgroupsHere(t *testing.T) bool {
	path, ok := proc.CgroupPath("probe-" + strconv.Itoa(os.Getpid()))
	if !ok {
		return false
	}
	cg, err := proc.NewCgroup(path)
	if err != nil {
		return false
	}
	if _, err := cg.Remove(time.Second); err != nil {
		t.Fatal(err)
	}
	return true
}
