package datadir

import (
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
