package datadir

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// The layout is SPEC §2's; operators, reconcile and earlier versions'
// data roots depend on these exact names.
func TestLayout(t *testing.T) {
	r := Root("/d")
	run := r.Run("0191")
	job := run.Job("test")
	for _, c := range []struct{ got, want string }{
		{r.DB(), "/d/quire.db"},
		{r.Config(), "/d/config.lua"},
		{r.AsyncLog(), "/d/async.log"},
		{r.Slot(0), "/d/quire.lock"},
		{r.Slot(2), "/d/quire.lock.2"},
		{r.Locks(), "/d/locks"},
		{r.Runs(), "/d/runs"},
		{r.Trash(), "/d/runs/.trash"},
		{r.TrashRun("0191"), "/d/runs/.trash/0191"},
		{string(run), "/d/runs/0191"},
		{run.Workspace(), "/d/runs/0191/workspace"},
		{run.CgroupFile(), "/d/runs/0191/cgroup"},
		{string(job), "/d/runs/0191/jobs/test"},
		{job.JobLog(), "/d/runs/0191/jobs/test/job.log"},
		{job.ShLog(3), "/d/runs/0191/jobs/test/sh-3.log"},
		{string(run.Job("quire/mirror")), "/d/runs/0191/jobs/quire/mirror"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// The ref lock's name must not change between versions: a hook of the
// old version and one of the new, running side by side during an
// upgrade, must take the same lock for the same ref.
func TestRefLockStable(t *testing.T) {
	got := Root("/d").RefLock("team/tools.git", "refs/heads/main")
	a := Root("/d").RefLock("team/tools.git", "refs/heads/main")
	b := Root("/d").RefLock("team/tools.git", "refs/heads/mai")
	c := Root("/d").RefLock("team/tools.gitr", "efs/heads/main")
	if got != a || got == b || got == c {
		t.Fatalf("ref locks not one per (repo, ref): %q %q %q", got, b, c)
	}
	if len(got) != len("/d/locks/")+24+len(".lock") {
		t.Fatalf("ref lock %q: want 24 hex digits", got)
	}
}

const removeAsEnv = "QUIRE_TEST_REMOVE_AS_NOBODY"

// A job may leave directories it cannot write (Go's module cache is
// read-only): the hook, not root here, must still remove the run's
// tree, or gc and keep_runs stop at it for good. As root, which may
// remove anything, the test runs itself again as nobody.
func TestRemoveAll_ReadOnlyDirectories(t *testing.T) {
	if dir := os.Getenv(removeAsEnv); dir != "" {
		if err := RemoveAll(filepath.Join(dir, "run")); err != nil {
			t.Fatalf("RemoveAll: %v", err)
		}
		return
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	ro := filepath.Join(run, "workspace", "pkg", "mod", "x@v1")
	if err := os.MkdirAll(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "go.mod"), []byte("module x\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(run, "etc")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{ro, filepath.Dir(ro)} {
		if err := os.Chmod(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getuid() != 0 {
		if err := RemoveAll(run); err != nil {
			t.Fatalf("RemoveAll: %v", err)
		}
	} else {
		const nobody = 65534
		if err := filepath.WalkDir(run, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, nobody, nobody)
		}); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		// nobody must reach a copy of this test binary: t.TempDir's
		// directories are the test user's alone.
		bin := filepath.Join(dir, "test.bin")
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, "-test.run=^TestRemoveAll_ReadOnlyDirectories$")
		cmd.Env = append(os.Environ(), removeAsEnv+"="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("as nobody: %v\n%s", err, out)
		}
	}
	if _, err := os.Lstat(run); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", run, err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("the symlink's target was touched: %v", err)
	}
}
