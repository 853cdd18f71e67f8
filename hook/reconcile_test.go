package hook_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// slowPipeline sleeps in its sh call when the hook's environment names
// a PIDFILE, where the call writes its pid; without one it is quick.
const slowPipeline = `local ci = require("quire.ci")
ci.job("slow", {"quire/push"}, function(q)
  local pidfile = q.env("PIDFILE")
  if pidfile and pidfile ~= "" then q.sh("echo $$ > '" .. pidfile .. "'; exec sleep 30") end
end)`

// startSlow starts a replay whose job sleeps, waits until the sleep
// runs, and returns the replay, the run id and the sleep's pid.
func startSlow(t *testing.T, r *repo) (replay interface{ Kill() error }, wait func(), id string, sleepPID int) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pid")
	cmd, out := start(t, append(r.Env, "PIDFILE="+pidfile), "--git-dir", r.Bare, "replay", "main")
	waitFor(t, "the sleeping sh call", func() bool {
		data, err := os.ReadFile(pidfile)
		if err != nil || !strings.HasSuffix(string(data), "\n") {
			return false
		}
		sleepPID, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return true
	})
	t.Cleanup(func() { syscall.Kill(sleepPID, syscall.SIGKILL) })
	run, jobs, _ := r.lastRun()
	if run.State != store.RunActive || jobs["slow"].State != store.JobActive {
		t.Fatalf("run %s, job %s; want both active:\n%s", run.State, jobs["slow"].State, out)
	}
	return cmd.Process, func() { cmd.Wait() }, run.ID, sleepPID
}

// alive reports whether pid is a process that is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i > 0 && !strings.HasPrefix(string(data[i+1:]), " Z")
}

func TestReconcile(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(slowPipeline)
	r.Commit("slow")
	r.push("-o", "ci.skip", "origin", "main")

	t.Run("Killed", func(t *testing.T) {
		hook, wait, id, sleepPID := startSlow(t, r)
		hook.Kill() // SIGKILL: the hook cannot record anything
		wait()
		if run, _, _ := r.lastRun(); run.State != store.RunActive {
			t.Fatalf("state %s after SIGKILL, want active (nothing recorded it)", run.State)
		}

		out, code := r.quire("", "--git-dir", r.Bare, "reconcile")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "reconciled run "+id)
		wantContains(t, out, "1 job(s) aborted, 1 process(es) killed")
		run, jobs, _ := r.lastRun()
		if run.ID != id || run.State != store.RunFailed || run.FailureKind != store.FailOrphaned || run.FinishedAtMS == 0 {
			t.Errorf("run %s: %s/%s finished %d, want failed/orphaned", run.ID, run.State, run.FailureKind, run.FinishedAtMS)
		}
		wantContains(t, run.Error, "died")
		if j := jobs["slow"]; j.State != store.JobAborted || j.FinishedAtMS == 0 {
			t.Errorf("job: %+v, want aborted", j)
		}
		waitFor(t, "the orphaned sleep to be killed", func() bool { return !alive(sleepPID) })

		out, _ = r.quire("", "--git-dir", r.Bare, "reconcile")
		if out != "nothing to reconcile\n" {
			t.Errorf("second reconcile: %q", out)
		}
	})

	t.Run("Automatic", func(t *testing.T) {
		hook, wait, id, _ := startSlow(t, r)
		hook.Kill()
		wait()
		// The next hook reconciles before its own run (which is quick:
		// no PIDFILE).
		out, code := r.quire("", "--git-dir", r.Bare, "replay", "main")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "quire: reconciled run "+id)
		s := r.records()
		got, err := s.GetRun(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.RunFailed || got.FailureKind != store.FailOrphaned {
			t.Errorf("run %s/%s, want failed/orphaned", got.State, got.FailureKind)
		}
		out, _ = r.quire("", "--git-dir", r.Bare, "replay", "main")
		if strings.Contains(out, "reconciled") {
			t.Errorf("a replay with nothing to reconcile said something:\n%s", out)
		}
	})

	t.Run("JSON", func(t *testing.T) {
		hook, wait, id, sleepPID := startSlow(t, r)
		hook.Kill()
		wait()
		s := r.records()
		row, err := s.GetRun(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		trashed := "01a00000-0000-7000-8000-00000000000a"
		mustWrite(t, filepath.Join(r.Bare, "quire", "runs", ".trash", trashed, "jobs", "x", "sh-1.log"), "1234\n")

		type orphan struct {
			ID            string         `json:"id"`
			Repo          string         `json:"repo"`
			Ref           string         `json:"ref_name"`
			PreviousState store.RunState `json:"previous_state"`
			OwnerPID      int            `json:"owner_pid"`
			OwnerHost     string         `json:"owner_host"`
			JobsAborted   int            `json:"jobs_aborted"`
			Killed        int            `json:"killed"`
			Errors        []string       `json:"errors"`
		}
		var got struct {
			RunsOrphaned       []orphan `json:"runs_orphaned"`
			LeftoversRemoved   int      `json:"leftovers_removed"`
			LeftoverBytesFreed int64    `json:"leftover_bytes_freed"`
			Leftovers          []struct {
				ID    string `json:"id"`
				Bytes int64  `json:"bytes"`
			} `json:"leftovers"`
		}
		keys := r.quireJSON(t, &got, "reconcile", "--json")
		wantKeys(t, keys, "runs_orphaned", "leftovers_removed", "leftover_bytes_freed", "leftovers")
		want := orphan{ID: id, Repo: row.Repo, Ref: row.Ref, PreviousState: store.RunActive, OwnerPID: row.OwnerPID,
			OwnerHost: row.OwnerHost, JobsAborted: 1, Killed: 1, Errors: []string{}}
		if len(got.RunsOrphaned) != 1 || !reflect.DeepEqual(got.RunsOrphaned[0], want) {
			t.Errorf("runs_orphaned %+v, want [%+v]", got.RunsOrphaned, want)
		}
		if row.Repo != "repo.git" || row.Ref != "refs/heads/main" || row.OwnerPID == 0 {
			t.Errorf("the run's row before reconcile: %+v", row)
		}
		if got.LeftoversRemoved != 1 || got.LeftoverBytesFreed != 5 || len(got.Leftovers) != 1 || got.Leftovers[0].ID != trashed {
			t.Errorf("leftovers: %d, %d bytes, %+v; want %s, 5 bytes", got.LeftoversRemoved, got.LeftoverBytesFreed, got.Leftovers, trashed)
		}
		if now, err := s.GetRun(t.Context(), id); err != nil || now.State != store.RunFailed || now.FailureKind != store.FailOrphaned {
			t.Errorf("run %s/%s after reconcile --json, want failed/orphaned", now.State, now.FailureKind)
		}
		waitFor(t, "the orphaned sleep to be killed", func() bool { return !alive(sleepPID) })

		r.quireJSON(t, &got, "reconcile", "--json")
		if got.RunsOrphaned == nil || len(got.RunsOrphaned) != 0 || got.LeftoversRemoved != 0 || len(got.Leftovers) != 0 {
			t.Errorf("second reconcile --json: %+v, want empty lists", got)
		}
	})

	t.Run("Live", func(t *testing.T) {
		hook, wait, id, _ := startSlow(t, r)
		// Killed at the end, its run is reconciled: no cgroup outlives the test.
		t.Cleanup(func() { r.quire("", "--git-dir", r.Bare, "reconcile") })
		defer wait()
		defer hook.Kill()
		out, code := r.quire("", "--git-dir", r.Bare, "reconcile")
		if code != 0 || out != "nothing to reconcile\n" {
			t.Errorf("exit %d: %q, want nothing to reconcile", code, out)
		}
		// gc never deletes a run that is still going.
		out, code = r.quire("", "--git-dir", r.Bare, "gc", "--older-than", "1ms")
		if code != 0 {
			t.Fatalf("gc: exit %d:\n%s", code, out)
		}
		run, jobs, _ := r.lastRun()
		if run.ID != id || run.State != store.RunActive || jobs["slow"].State != store.JobActive {
			t.Errorf("run %s %s, job %s: want the live run untouched", run.ID, run.State, jobs["slow"].State)
		}
		if _, err := os.Stat(r.runDir(id)); err != nil {
			t.Errorf("the live run's directory: %v", err)
		}
		if n := len(r.runs()); n != 1 {
			t.Errorf("%d runs after gc, want only the live one", n)
		}
	})
}

func TestReconcile_PIDReuse(t *testing.T) {
	// Runs "owned" by this test process: one queued an hour before the
	// process started (so the pid was reused: the owner is gone), one
	// queued now, one of another host.
	r := newRepo(t)
	r.Pipeline(slowPipeline)
	r.Commit("quick")
	r.push()
	run, _, _ := r.lastRun()
	s := r.records()
	host, _ := os.Hostname()
	orphan := run
	orphan.ID = "01a00000-0000-7000-8000-000000000001"
	orphan.State, orphan.StartedAtMS, orphan.FinishedAtMS, orphan.FailureKind = store.RunPending, 0, 0, ""
	orphan.OwnerPID, orphan.OwnerHost = os.Getpid(), host
	orphan.QueuedAtMS = time.Now().Add(-time.Hour).UnixMilli()
	live := orphan
	live.ID = "01a00000-0000-7000-8000-000000000002"
	live.QueuedAtMS = time.Now().UnixMilli()
	other := orphan
	other.ID = "01a00000-0000-7000-8000-000000000003"
	other.OwnerHost = host + "-elsewhere"
	for _, x := range []store.Run{orphan, live, other} {
		if err := s.CreateRun(t.Context(), x); err != nil {
			t.Fatal(err)
		}
	}
	out, code := r.quire("", "--git-dir", r.Bare, "reconcile")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for id, want := range map[string]store.RunState{orphan.ID: store.RunFailed, live.ID: store.RunPending, other.ID: store.RunPending} {
		got, err := s.GetRun(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != want {
			t.Errorf("run %s: state %s, want %s", id, got.State, want)
		}
	}
}
