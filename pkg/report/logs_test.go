package report_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// at is ms after the run's start: the records of these tests give
// times so, and the durations in headers are exact.
func at(run store.Run, ms int64) int64 { return run.StartedAtMS + ms }

func TestLogs_Print(t *testing.T) {
	// An ended run: build wrote job.log lines around two sh calls
	// (stdout and stderr, one line longer than a CRI record), test was
	// skipped.
	f := newFixture(t)
	ctx := t.Context()
	run := f.run("01a00000-0000-7000-8000-000000000020", "repo.git", "refs/heads/main", store.RunActive, 1_700_000_000_000)
	job := f.root.Run(run.ID).Job("build")
	jl := f.log(job.JobLog())
	f.must(f.store.StartJob(ctx, run.ID, "build", at(run, 0)))
	f.must(jl.Line(crilog.Stdout, []byte("building")))
	sh1 := f.log(job.ShLog(1))
	long := strings.Repeat("L", 20000)
	f.write(sh1, crilog.Stdout, "out-1\n"+long+"\n")
	f.write(sh1, crilog.Stderr, "err-1\n")
	f.must(sh1.Close())
	f.must(f.store.AddShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "build", Seq: 1, StartedAtMS: at(run, 1), FinishedAtMS: at(run, 2), Cmd: "make\nall"}))
	f.must(jl.Line(crilog.Stdout, []byte("between")))
	// A call that printed nothing is placed by its start among the
	// job.log lines: after "between", before "build failed".
	time.Sleep(2 * time.Millisecond)
	started := time.Now().UnixMilli()
	sh2 := f.log(job.ShLog(2))
	f.must(sh2.Close())
	f.must(f.store.AddShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "build", Seq: 2, StartedAtMS: started, FinishedAtMS: started + 1, ExitCode: 3, Cmd: "false"}))
	f.must(jl.Line(crilog.Stderr, []byte("build failed: \x1b[1m")))
	f.must(jl.Close())
	exit := 1
	f.must(f.store.FinishJob(ctx, run.ID, "build", store.JobFailed, &exit, "sh exited 3", "", at(run, 1500)))
	f.must(f.store.SkipJob(ctx, run.ID, "test", "build failed", at(run, 1500)))
	f.must(f.store.FinishRun(ctx, run.ID, store.RunFailed, store.FailJob, "job build failed", at(run, 2000)))
	run, _ = f.store.GetRun(ctx, run.ID)

	print := func(t *testing.T, l report.Logs) (string, error) {
		t.Helper()
		l.Store, l.Root, l.Run = f.store, f.root, run
		var b bytes.Buffer
		err := l.Print(ctx, &b)
		return b.String(), err
	}
	t.Run("Run", func(t *testing.T) {
		out, err := print(t, report.Logs{})
		if err != nil {
			t.Fatal(err)
		}
		want := "==> job build: failed in 1.5s: sh exited 3\n" +
			"==> build job.log\nbuilding\n" +
			"==> build sh-1 (exit 0): make ...\nout-1\n" + long + "\n! err-1\n" +
			"==> build job.log\nbetween\n" +
			"==> build sh-2 (exit 3): false\n" +
			"==> build job.log\n! build failed: \x1b[1m\n" +
			"==> job test: skipped: build failed\n" +
			"==> run failed (job) in 2s: job build failed\n"
		if out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("Job", func(t *testing.T) {
		out, err := print(t, report.Logs{Job: "build"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out, "==> build job.log\nbuilding\n") || strings.Contains(out, "==> job ") || strings.Contains(out, "==> run") {
			t.Errorf("one job prints its lines without job or run headers:\n%s", out)
		}
	})
	t.Run("Timestamps", func(t *testing.T) {
		out, err := print(t, report.Logs{Job: "build", Timestamps: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if strings.HasPrefix(l, "==> ") {
				continue
			}
			ts, _, _ := strings.Cut(l, " ")
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
				t.Errorf("line %.60q: timestamp %v", l, err)
			}
		}
	})
	t.Run("UnknownJob", func(t *testing.T) {
		_, err := print(t, report.Logs{Job: "deploy"})
		if err == nil || !strings.Contains(err.Error(), `has no job "deploy" (jobs: build, test)`) {
			t.Errorf("got %v, want an error listing the jobs", err)
		}
	})
	// The run's error may be ci.lua's own words (error("\27]52;...")):
	// escaped, like every other text a pusher wrote.
	t.Run("RunErrorEscaped", func(t *testing.T) {
		bad := f.run("01a00000-0000-7000-8000-000000000021", "repo.git", "refs/heads/main", store.RunActive, 1_700_000_000_000)
		f.must(f.store.FinishRun(ctx, bad.ID, store.RunFailed, store.FailPipeline, "boom \x1b]52;c;aGk=\x07 done", at(bad, 10)))
		bad, _ = f.store.GetRun(ctx, bad.ID)
		var b bytes.Buffer
		if err := (report.Logs{Store: f.store, Root: f.root, Run: bad}).Print(ctx, &b); err != nil && !errors.Is(err, report.ErrRunFailed) {
			t.Fatal(err)
		}
		if out := b.String(); strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `boom \x1b]52;c;aGk=\x07 done`) {
			t.Errorf("the run's error reached the terminal raw:\n%q", out)
		}
	})
	t.Run("FollowFailed", func(t *testing.T) {
		out, err := print(t, report.Logs{Follow: true})
		if !errors.Is(err, report.ErrRunFailed) {
			t.Errorf("following a failed run: %v, want ErrRunFailed", err)
		}
		if !strings.HasSuffix(out, "==> run failed (job) in 2s: job build failed\n") {
			t.Errorf("output does not end with the run's outcome:\n%s", out)
		}
	})
}

func TestLogs_Follow(t *testing.T) {
	// Logs polls the records once per round and asks OwnerGone in each:
	// the test takes that call as its clock, changing the run between
	// rounds, so what is printed when does not depend on timing.
	f := newFixture(t)
	ctx := t.Context()
	run := f.run("01a00000-0000-7000-8000-000000000021", "repo.git", "refs/heads/main", store.RunActive, 1_700_000_000_000)
	job := f.root.Run(run.ID).Job("build")
	f.must(f.store.StartJob(ctx, run.ID, "build", at(run, 0)))
	jl := f.log(job.JobLog())
	sh := f.log(job.ShLog(1))
	f.must(f.store.StartShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "build", Seq: 1, StartedAtMS: at(run, 1), Cmd: "count"}))
	f.write(sh, crilog.Stdout, "one\ntw") // "tw" waits for its newline

	rounds := []func(){
		func() {},
		func() { f.write(sh, crilog.Stdout, "o\n") },
		func() {
			f.must(sh.Close())
			f.must(f.store.FinishShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "build", Seq: 1, FinishedAtMS: at(run, 5)}))
		},
		func() {
			f.must(jl.Line(crilog.Stdout, []byte("done")))
			f.must(jl.Close())
			exit := 0
			f.must(f.store.FinishJob(ctx, run.ID, "build", store.JobComplete, &exit, "", "", at(run, 10)))
			f.must(f.store.FinishRun(ctx, run.ID, store.RunComplete, "", "", at(run, 20)))
		},
	}
	var out bytes.Buffer
	n := 0
	l := report.Logs{
		Store: f.store, Root: f.root, Run: run, Follow: true, Poll: time.Millisecond,
		OwnerGone: func(store.Run) bool {
			if n < len(rounds) {
				rounds[n]()
			}
			n++
			return false
		},
	}
	if err := l.Print(ctx, &out); err != nil {
		t.Fatalf("Print: %v", err)
	}
	want := "==> job build: active\n" +
		"==> build sh-1\none\ntwo\n" +
		"==> build sh-1 (exit 0): count\n" + // again, with its exit
		"==> build job.log\ndone\n" +
		"==> job build: complete in 10ms\n" + // again, with how it ended
		"==> run complete in 20ms\n"
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	t.Run("OwnerGone", func(t *testing.T) {
		run := f.run("01a00000-0000-7000-8000-000000000022", "repo.git", "refs/heads/main", store.RunActive, 1_700_000_000_000)
		run.OwnerPID = 4242
		var out bytes.Buffer
		l := report.Logs{Store: f.store, Root: f.root, Run: run, Follow: true, Poll: time.Millisecond,
			OwnerGone: func(store.Run) bool { return true }}
		if err := l.Print(ctx, &out); !errors.Is(err, report.ErrRunFailed) {
			t.Errorf("Print: %v, want ErrRunFailed", err)
		}
		if !strings.Contains(out.String(), "==> run active\n==> the hook running it (pid ") {
			t.Errorf("got\n%s", out.String())
		}
	})
	t.Run("Interrupted", func(t *testing.T) {
		run := f.run("01a00000-0000-7000-8000-000000000023", "repo.git", "refs/heads/main", store.RunActive, 1_700_000_000_000)
		ctx, cancel := context.WithCancel(ctx)
		l := report.Logs{Store: f.store, Root: f.root, Run: run, Follow: true, Poll: time.Millisecond,
			OwnerGone: func(store.Run) bool { cancel(); return false }}
		if err := l.Print(ctx, &bytes.Buffer{}); err != nil {
			t.Errorf("Print after the operator stopped it: %v, want nil", err)
		}
	})
}
