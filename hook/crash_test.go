package hook_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// escapeePipeline leaves behind a process that left its group and
// session and cleared its environment, so no QUIRE_RUN_ID marker finds
// it; its pid goes to $PIDS. With $HOLD set, the job then sleeps.
const escapeePipeline = `local ci = require("quire.ci")
ci.job("escape", {"quire/push"}, function(q)
  local pids = q.env("PIDS")
  -- The escapee writes its pid itself, once it has left the group.
  q.sh('(setsid env -i /bin/sh -c "echo \\$\\$ >> $PIDS; exec /bin/sleep 3333" >/dev/null 2>&1 </dev/null &)')
  q.sh('while [ ! -s "$PIDS" ]; do sleep 0.01; done')
  if (q.env("HOLD") or "") ~= "" then q.sh('echo $$ >> "' .. pids .. '"; exec sleep 30') end
end)
ci.job("check", {"escape"}, function(q)
  local other = q.env("OTHER_PIDS")
  if not other then return nil end
  -- What a dead run left running must be gone before this run's jobs.
  return {alive = q.sh('for p in $(cat "' .. other .. '"); do if kill -0 $p 2>/dev/null && ! grep -q "^[^)]*) Z" /proc/$p/stat; then echo $p; fi; done').stdout}
end)`

// readPids reads the pids a pipeline appended to path.
func readPids(t *testing.T, path string) []int {
	t.Helper()
	data, _ := os.ReadFile(path)
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pids
}

func TestReplay_KillsWhatLeftTheTree(t *testing.T) {
	// Issue 7, bug 4: "(setsid env -i sleep &)" outlived the job, the
	// run and reconcile.
	r := newRepo(t)
	r.Pipeline(escapeePipeline)
	r.Commit("escape")
	r.push("-o", "ci.skip", "origin", "main")
	pidfile := filepath.Join(t.TempDir(), "pids")
	out, code := runBin(t, append(r.Env, "PIDS="+pidfile), r.Work, "", "--git-dir", r.Bare, "replay", "main")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	pids := readPids(t, pidfile)
	if len(pids) != 1 {
		t.Fatalf("pids %v, want the escapee's", pids)
	}
	if alive(pids[0]) {
		t.Errorf("the escapee %d outlived its job", pids[0])
	}
}

func TestReconcile_AfterTheLock(t *testing.T) {
	// Issue 7, bug 6: a hook waiting for the lock reconciled before it
	// got it, so the processes of a run whose hook died meanwhile kept
	// running beside its jobs.
	r := newRepo(t)
	r.Pipeline(escapeePipeline)
	r.Commit("escape")
	r.push("-o", "ci.skip", "origin", "main")
	dir := t.TempDir()
	first := filepath.Join(dir, "first")
	a, _ := start(t, append(r.Env, "PIDS="+first, "HOLD=1"), "--git-dir", r.Bare, "replay", "main")
	waitFor(t, "the first run to hold the lock", func() bool { return len(readPidsQuiet(first)) == 2 })
	t.Cleanup(func() { readPids(t, first) })
	b, bOut := start(t, append(r.Env, "PIDS="+filepath.Join(dir, "second"), "OTHER_PIDS="+first), "--git-dir", r.Bare, "replay", "main")
	waitFor(t, "the second run to wait", func() bool { return len(r.runsNow()) == 2 })
	time.Sleep(300 * time.Millisecond) // well into its lock wait
	a.Process.Kill()
	a.Wait()
	if err := waitExit(b, 20*time.Second); err != nil {
		t.Fatalf("second replay: %v\n%s", err, bOut)
	}
	wantContains(t, bOut.String(), "reconciled run")
	run, jobs, _ := r.lastRun()
	if run.State != "complete" {
		t.Fatalf("second run %s:\n%s", run.State, bOut)
	}
	if got := jobs["check"].Outputs; got != `{"alive":""}` {
		t.Errorf("processes of the dead run alive while the next run's jobs ran: %s", got)
	}
	for _, pid := range readPidsQuiet(first) {
		if alive(pid) {
			t.Errorf("process %d of the dead run is still running", pid)
		}
	}
	runs := r.runs()
	if dead := runs[1]; dead.State != "failed" || dead.FailureKind != "orphaned" {
		t.Errorf("dead run %s/%s, want failed/orphaned", dead.State, dead.FailureKind)
	} else if _, err := os.Stat(filepath.Join(r.runDir(dead.ID), "workspace")); !os.IsNotExist(err) {
		t.Errorf("the dead run's workspace is still there: %v", err)
	}
}

func readPidsQuiet(path string) []int {
	data, _ := os.ReadFile(path)
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// faultPipeline gives a kill something to hit in every phase: a load
// that takes a moment, a tree of a few hundred files, sh calls that
// start and end in quick succession (rows between rows), one with heavy
// output, and processes left behind that only a cgroup or the subtree
// finds. Every sh process appends its pid to $PIDS. With $QUICK set the
// jobs do nothing: that is the next hook, which must clean up.
const faultPipeline = `local ci = require("quire.ci")
local x = 0
for i = 1, 300000 do x = x + i end
ci.job("a", {"quire/push"}, function(q)
  if q.env("QUICK") then return nil end
  local pids = q.env("PIDS")
  q.sh('echo $$ >> "$PIDS"; (setsid env -i /bin/sh -c "echo \\$\\$ >> $PIDS; exec /bin/sleep 300" >/dev/null 2>&1 </dev/null &)')
  for i = 1, 20 do q.sh({"true"}) end
  q.sh('echo $$ >> "' .. pids .. '"; yes 0123456789abcdef | head -c 8000000; sleep 0.3')
end)
ci.job("b", {"a"}, function(q)
  if q.env("QUICK") then return nil end
  for i = 1, 20 do q.sh({"true"}) end
  q.sh('echo $$ >> "' .. q.env("PIDS") .. '"; sleep 0.2 & sleep 0.1')
end)`

func TestFaultInjection_SIGKILL(t *testing.T) {
	// Issue 7: SIGKILL the hook at random moments of a real run, in
	// every phase; after the next hook the records are whole and
	// nothing of the dead run is left, on disk or running.
	r := newRepo(t)
	r.Pipeline(faultPipeline)
	for i := range 300 {
		r.Write(fmt.Sprintf("tree/d%02d/f%03d.txt", i%20, i), strings.Repeat("line\n", 50+i))
	}
	r.Commit("fault")
	r.push("-o", "ci.skip", "origin", "main")
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pids")
	env := append(r.Env, "PIDS="+pidfile)
	quick := append(r.Env, "PIDS="+pidfile, "QUICK=1")
	t.Cleanup(func() { readPids(t, pidfile) })

	// How long a whole run takes here sets the range of the moments.
	began := time.Now()
	if out, code := runBin(t, env, r.Work, "", "--git-dir", r.Bare, "replay", "main"); code != 0 {
		t.Fatalf("a whole run: exit %d\n%s", code, out)
	}
	whole := time.Since(began)
	r.check(t, "after a whole run", pidfile)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (a failure replays with the same moments given this seed)", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	kill := func(what string, cmd *exec.Cmd, out *bytes.Buffer, at time.Duration) {
		t.Helper()
		time.Sleep(at)
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("%s: SIGKILL after %s", what, at.Round(time.Millisecond))
		if o, code := runBin(t, quick, r.Work, "", "--git-dir", r.Bare, "replay", "main"); code != 0 {
			t.Fatalf("%s: the next hook: exit %d\n%s\nthe killed hook said:\n%s", what, code, o, out)
		}
		r.waitIdle(t)
		r.check(t, what, pidfile)
	}

	// Random moments of a sync run, from before the database is open to
	// its last rows.
	for i := range 10 {
		cmd, out := start(t, env, "--git-dir", r.Bare, "replay", "main")
		kill(fmt.Sprintf("sync run %d", i), cmd, out, time.Duration(rng.Int64N(int64(whole))))
	}
	// Mid-sh with heavy output: once the big call's log exists.
	{
		cmd, out := start(t, env, "--git-dir", r.Bare, "replay", "main")
		waitFor(t, "the heavy sh call", func() bool { return r.newestLogExists("a", 22) })
		kill("mid-sh", cmd, out, time.Duration(rng.Int64N(int64(50*time.Millisecond))))
	}
	// During the lock wait: a second hook waits behind a first.
	{
		holder, _ := start(t, env, "--git-dir", r.Bare, "replay", "main")
		waiter, out := start(t, env, "--git-dir", r.Bare, "replay", "main")
		waitFor(t, "two runs", func() bool { return len(r.unfinished()) == 2 })
		kill("lock wait", waiter, out, time.Duration(rng.Int64N(int64(100*time.Millisecond))))
		if err := waitExit(holder, 30*time.Second); err != nil {
			t.Fatalf("the hook holding the lock: %v", err)
		}
		r.check(t, "lock wait, after the holder", pidfile)
	}
	// During the async handover: the hook records its run, starts the
	// worker and hands over; a kill at any instant of that still runs or
	// records the run.
	head := r.Git(r.Work, "rev-parse", "HEAD")
	for i := range 3 {
		cmd := exec.Command(bin, "--git-dir", r.Bare, "post-receive", "--async")
		cmd.Env = env
		cmd.Stdin = strings.NewReader(strings.Repeat("0", 40) + " " + head + " refs/heads/async\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kill(fmt.Sprintf("async handover %d", i), cmd, &out, time.Duration(rng.Int64N(int64(60*time.Millisecond))))
	}
}

// unfinished lists the runs still pending or active.
func (r *repo) unfinished() []store.Run {
	var out []store.Run
	for _, run := range r.runsNow() {
		if run.State == "pending" || run.State == "active" {
			out = append(out, run)
		}
	}
	return out
}

// waitIdle waits for background workers to finish their runs.
func (r *repo) waitIdle(t *testing.T) {
	t.Helper()
	waitFor(t, "every live run to end", func() bool {
		for _, run := range r.unfinished() {
			if alive(run.OwnerPID) {
				return false
			}
		}
		return true
	})
}

// newestLogExists reports whether the newest run has an sh-<seq>.log of job.
func (r *repo) newestLogExists(job string, seq int) bool {
	runs := r.runsNow()
	if len(runs) == 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(r.runDir(runs[0].ID), "jobs", job, fmt.Sprintf("sh-%d.log", seq)))
	return err == nil
}

// check asserts what must hold after the next hook: an intact database,
// no run pending or active, every sh log with its row and every row with
// its log, no workspace left, and no process of any run still alive.
func (r *repo) check(t *testing.T, what string, pidfile string) {
	t.Helper()
	db := filepath.Join(r.Bare, "quire", "quire.db")
	if out, err := exec.Command("sqlite3", db, "PRAGMA integrity_check").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("%s: integrity_check: %v %s", what, err, out)
	}
	s := r.records()
	for _, run := range r.runs() {
		if run.State == "pending" || run.State == "active" {
			t.Errorf("%s: run %s still %s (owner %d)", what, run.ID, run.State, run.OwnerPID)
		}
		if _, err := os.Stat(filepath.Join(r.runDir(run.ID), "workspace")); !os.IsNotExist(err) {
			t.Errorf("%s: run %s (%s) left its workspace", what, run.ID, run.State)
		}
		events, err := s.ListShEvents(t.Context(), run.ID)
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]bool{}
		for _, e := range events {
			name := filepath.Join(e.JobID, fmt.Sprintf("sh-%d.log", e.Seq))
			rows[name] = true
			if _, err := os.Stat(filepath.Join(r.runDir(run.ID), "jobs", name)); err != nil {
				t.Errorf("%s: run %s: row %s has no log: %v", what, run.ID, name, err)
			}
		}
		logs, _ := filepath.Glob(filepath.Join(r.runDir(run.ID), "jobs", "*", "sh-*.log"))
		for _, l := range logs {
			name, _ := filepath.Rel(filepath.Join(r.runDir(run.ID), "jobs"), l)
			if !rows[name] {
				t.Errorf("%s: run %s (%s): log %s has no row", what, run.ID, run.State, name)
			}
		}
	}
	for _, pid := range readPidsQuiet(pidfile) {
		if alive(pid) {
			t.Errorf("%s: process %d of a run is still alive", what, pid)
		}
	}
}

func TestAsyncWorker_AdoptsBeforeReconcile(t *testing.T) {
	// Issue 7, bug 9: the hook died between recording a run pending and
	// handing it to its worker; the worker took its own run for an
	// orphan of the dead hook and skipped it.
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("a", {"quire/push"}, function(q) q.sh("true") end)`)
	sha := r.Commit("async")
	r.push("-o", "ci.skip", "origin", "main")

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(r.Bare, "quire"), 0o755); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	run := store.Run{
		ID: "01a00000-0000-7000-8000-0000000000a1", Repo: "repo.git", Ref: "refs/heads/main", SHA: sha,
		Trigger: "push", PushedAtMS: now.UnixMilli(), QueuedAtMS: now.UnixMilli(), State: "pending",
		OwnerPID: dead.Process.Pid, OwnerHost: host,
	}
	if err := r.records().CreateRun(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	queued := fmt.Sprintf(`[{"run_id":%q,"commit":%q,"ref":"refs/heads/main","pushed_at":%q}]`, run.ID, sha, now.UTC().Format(time.RFC3339Nano))
	out, code := runBin(t, r.Env, r.Bare, queued, "--git-dir", r.Bare, "async-worker")
	if code != 0 {
		t.Fatalf("worker: exit %d\n%s", code, out)
	}
	got, err := r.records().GetRun(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "complete" {
		t.Errorf("the queued run is %s/%s (%s), want complete: the worker must run it\n%s", got.State, got.FailureKind, got.Error, out)
	}
}

func TestReplay_UnopenableDatabase(t *testing.T) {
	// SQLite's "unable to open database file" alone does not say what
	// to do (issue 7).
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("a", {"quire/push"}, function(q) end)`)
	r.Commit("a")
	r.push("-o", "ci.skip", "origin", "main")
	dataRoot := t.TempDir()
	if err := os.Mkdir(filepath.Join(dataRoot, "quire.db"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := r.quire("", "--git-dir", r.Bare, "--data-dir", dataRoot, "replay", "main")
	if code != 2 {
		t.Errorf("exit %d, want 2:\n%s", code, out)
	}
	wantContains(t, out, "unable to open database file; check that "+dataRoot+" and the files in it are writable by this user")
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d lines, want one:\n%s", n, out)
	}
}
