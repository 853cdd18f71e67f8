package runner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/executor/bwrap"
)

func TestRunner_Bwrap(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (.ci/run installs it)")
	}
	// A file in the host's /tmp, which the sandbox's private /tmp hides.
	marker, err := os.CreateTemp("", "quire-bwrap-marker-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	defer os.Remove(marker.Name())

	h := newHarness(t, `
ci.job("sandbox", {"quire/push"}, function(q)
  return {
    workspace = q.sh("echo made > made.txt && cat made.txt && cat sub/in.txt").stdout,
    cwd = q.sh({"pwd"}, {cwd = "sub"}).stdout,
    etc = q.sh("touch /etc/quire-bwrap-test 2>&1 || echo refused").stdout,
    tmp = q.sh("test -e " .. q.env("QUIRE_TEST_MARKER") .. " && echo host-tmp-visible || echo private").stdout,
    pid1 = q.sh("cat /proc/1/comm").stdout,
    net = q.sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' '").stdout,
    signal = q.sh("kill -9 $$").exit,
    exit = q.sh("exit 3").exit,
    env = q.sh("echo $QUIRE_JOB_ID").stdout,
    bare = q.sh('cat "$QUIRE_GIT_DIR/HEAD"').stdout,
  }
end)
ci.job("background", {"quire/push"}, function(q)
  q.sh("sleep 30 & echo $! > bg.pid")
  return {pid = q.read_file("bg.pid")}
end)
`)
	h.repo.Write("sub/in.txt", "committed\n")
	h.Env = []string{"QUIRE_TEST_MARKER=" + marker.Name()}
	b, err := bwrap.New(false, h.repo.Bare, []string{h.dataRoot})
	if err != nil {
		t.Fatal(err)
	}
	h.Executor = b
	o := h.run()
	o.wantState("sandbox", "complete")
	got := o.outputs("sandbox")
	want := map[string]any{
		"workspace": "made\ncommitted\n",
		"cwd":       filepath.Join(o.run.WorkspacePath, "sub") + "\n",
		"tmp":       "private\n",
		"pid1":      "bwrap\n",
		"net":       "lo ",
		"signal":    -9.0,
		"exit":      3.0,
		"env":       "sandbox\n",
		"bare":      "ref: refs/heads/main\n", // readable, although under /tmp
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if etc, _ := got["etc"].(string); !strings.Contains(etc, "Read-only file system") || !strings.Contains(etc, "refused") {
		t.Errorf("etc = %q, want the host file system read-only", etc)
	}
	if _, err := os.Stat("/etc/quire-bwrap-test"); err == nil {
		os.Remove("/etc/quire-bwrap-test")
		t.Error("the sandbox wrote to the host's /etc")
	}
	o.wantState("background", "complete")
	// The sleep left in the background inside the sandbox died with its
	// job: no process carries the run's marker any more.
	if procs := pidsCarrying("QUIRE_RUN_ID=" + o.run.ID); len(procs) > 0 {
		t.Errorf("processes of the run outlived it: %+v", procs)
	}
}

// pidsCarrying lists the processes, other than this one, whose
// environment holds the variable kv.
func pidsCarrying(kv string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(env, []byte{0}) {
			if string(v) == kv {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
