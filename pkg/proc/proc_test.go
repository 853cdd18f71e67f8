package proc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The helper-process trick: the test binary, started again with
// QUIRE_PROC_HELPER set, plays a hook whose job left a process behind.
func TestMain(m *testing.M) {
	switch os.Getenv("QUIRE_PROC_HELPER") {
	case "":
		os.Exit(m.Run())
	case "tree":
		helperTree()
	}
}

// escapee is what a job leaves behind: out of its group and session,
// with an empty environment, so no marker finds it.
const escapee = `(setsid env -i /bin/sleep 3333 >/dev/null 2>&1 </dev/null & echo $!)`

// helperTree becomes a subreaper, lets sh leave an escapee behind, then
// kills its subtree and prints the escapee's pid and how many it killed.
func helperTree() {
	BecomeSubreaper()
	out, err := exec.Command("sh", "-c", escapee).Output()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	pid := strings.TrimSpace(string(out))
	n := KillTree(2 * time.Second)
	fmt.Println(pid, n)
	os.Exit(0)
}

func TestKillTree(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "QUIRE_PROC_HELPER=tree")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	var pid, n int
	if _, err := fmt.Sscan(string(out), &pid, &n); err != nil {
		t.Fatalf("helper said %q: %v", out, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if n != 1 {
		t.Errorf("KillTree killed %d processes, want 1 (the escapee)", n)
	}
	if alive(pid) {
		t.Errorf("the escapee %d outlived KillTree", pid)
	}
}

func TestCgroup(t *testing.T) {
	path, ok := CgroupPath("test-" + strconv.Itoa(os.Getpid()))
	if !ok {
		t.Skip("needs a cgroup v2 hierarchy (/proc/self/mountinfo lists none)")
	}
	cg, err := NewCgroup(path)
	if err != nil {
		t.Skipf("needs a writable cgroup v2 hierarchy (root, or a delegated cgroup): %v", err)
	}
	t.Cleanup(func() { cg.Remove(time.Second) })
	job, err := cg.Child("job-1")
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("sh", "-c", escapee)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	job.SysProcAttr(cmd.SysProcAttr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if !alive(pid) {
		t.Fatalf("the escapee %d is not running", pid)
	}

	t.Run("RemoveFromAnotherProcess", func(t *testing.T) {
		// Reconcile in the next hook knows only the path.
		n, err := RemoveCgroup(path, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("removed a cgroup of %d processes, want 1", n)
		}
		for deadline := time.Now().Add(2 * time.Second); alive(pid) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("the escapee %d outlived its cgroup", pid)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still there: %v", path, err)
		}
	})
	t.Run("FreshCgroupAfterAKill", func(t *testing.T) {
		// Linux kills what is cloned into a cgroup killed before: a
		// job's processes start in a cgroup of their own.
		path, _ := CgroupPath("fresh-" + strconv.Itoa(os.Getpid()))
		run, err := NewCgroup(path)
		if err != nil {
			t.Fatal(err)
		}
		defer run.Remove(time.Second)
		for i := range 3 {
			job, err := run.Child("job-" + strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				cmd := exec.Command("sh", "-c", "sleep 5 & exit 0")
				cmd.SysProcAttr = &syscall.SysProcAttr{}
				job.SysProcAttr(cmd.SysProcAttr)
				if err := cmd.Run(); err != nil {
					t.Fatalf("job %d: a process started after the last job's kill: %v", i, err)
				}
			}
			if _, err := job.Remove(time.Second); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("RefusesOtherDirectories", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := RemoveCgroup(dir, time.Second); err == nil {
			t.Errorf("RemoveCgroup(%s) succeeded on a directory that is no cgroup of ours", dir)
		}
	})
}

func TestOwns(t *testing.T) {
	self := os.Getpid()
	if !Owns(self, time.Now()) {
		t.Error("this process does not own a run queued now")
	}
	if Owns(self, time.Now().Add(-24*time.Hour)) {
		t.Error("this process owns a run queued before it started: a reused pid")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if Owns(cmd.Process.Pid, time.Now()) && alive(cmd.Process.Pid) {
		t.Errorf("an exited process %d owns a run", cmd.Process.Pid)
	}
}
