package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestRunner_Outputs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("a", {"quire/push"}, function(q)
  return {version = "1.2", n = 3, ok = true, list = {"x", "y"}, nested = {k = "v"}}
end)
ci.job("b", {"a"}, function(q) return {seen = q.jobs("a").version} end)
ci.job("c", {"b"}, function(q)
  local a, b = q.jobs("a"), q.jobs("b")
  return {via = a.nested.k, n = a.n, second = a.list[2], seen = b.seen}
end)
ci.job("none", {"quire/push"}, function(q) return nil end)
`)
	o := h.run()

	t.Run("StoredAsJSON", func(t *testing.T) {
		o.wantState("a", "complete")
		got := o.outputs("a")
		want := map[string]any{"version": "1.2", "n": 3.0, "ok": true,
			"list": []any{"x", "y"}, "nested": map[string]any{"k": "v"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("a outputs = %v, want %v", got, want)
		}
	})
	t.Run("ReadByDirectInput", func(t *testing.T) {
		o.wantState("b", "complete")
		if got, want := o.outputs("b"), map[string]any{"seen": "1.2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("b outputs = %v, want %v", got, want)
		}
	})
	t.Run("ReadByTransitiveInput", func(t *testing.T) {
		o.wantState("c", "complete")
		want := map[string]any{"via": "v", "n": 3.0, "second": "y", "seen": "1.2"}
		if got := o.outputs("c"); !reflect.DeepEqual(got, want) {
			t.Errorf("c outputs = %v, want %v", got, want)
		}
	})
	t.Run("NilIsNULL", func(t *testing.T) {
		if j := o.wantState("none", "complete"); j.Outputs != "" {
			t.Errorf("none outputs = %q, want NULL", j.Outputs)
		}
	})
	t.Run("RunComplete", func(t *testing.T) {
		if o.run.State != "complete" || o.run.FailureKind != "" || o.run.Error != "" {
			t.Errorf("run = %s/%s %q, want complete", o.run.State, o.run.FailureKind, o.run.Error)
		}
	})
}

func TestRunner_OutputErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("c", {"quire/push"}, function(q) return {x = 1} end)
ci.job("b", {"quire/push"}, function(q) return q.jobs("c") end)
ci.job("own", {"quire/push"}, function(q) return q.jobs("own") end)
ci.job("fn", {"quire/push"}, function(q) return function() end end)
ci.job("nestedfn", {"quire/push"}, function(q) return {list = {1, print}} end)
`)
	o := h.run()

	tests := []struct {
		job  string
		want []string
	}{
		{"b", []string{"Job 'b' cannot read outputs from 'c' — not in its transitive inputs"}},
		{"own", []string{"own", "its own output"}},
		{"fn", []string{"fn", "output", "function"}},
		{"nestedfn", []string{"nestedfn", "output", "function", "list"}},
	}
	for _, tt := range tests {
		t.Run(tt.job, func(t *testing.T) {
			j := o.wantState(tt.job, "failed")
			for _, w := range tt.want {
				if !strings.Contains(j.Error, w) {
					t.Errorf("error = %q, want it to contain %q", j.Error, w)
				}
			}
			if j.Outputs != "" {
				t.Errorf("outputs = %q, want NULL", j.Outputs)
			}
			if log := text(o.lines(filepath.Join(o.jobDir(tt.job), "job.log"))); !strings.Contains(log, "stderr: "+firstLine(j.Error)) {
				t.Errorf("job.log does not hold the error %q:\n%s", j.Error, log)
			}
		})
	}
	t.Run("NotAnInputExactMessage", func(t *testing.T) {
		// The message, after the position gopher-lua puts in front of it,
		// then the Lua traceback (SPEC 4: both go to jobs.error).
		want := `^\.quire/ci\.lua:\d+: Job 'b' cannot read outputs from 'c' — not in its transitive inputs\nstack traceback:\n\t.*\n\t\.quire/ci\.lua:4: in `
		if got := o.job("b").Error; !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("error = %q, want %s", got, want)
		}
	})
	t.Run("SourceJobStillComplete", func(t *testing.T) {
		o.wantState("c", "complete")
	})
	t.Run("RunFailed", func(t *testing.T) {
		if o.run.State != "failed" || o.run.FailureKind != "job" {
			t.Errorf("run = %s/%s, want failed/job", o.run.State, o.run.FailureKind)
		}
	})
}

func TestRunner_FailureAndSkip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("a", {"quire/push"}, function(q)
  q.log("before the error")
  error("boom in a")
end)
ci.job("b", {"a"}, function(q) q.sh({"true"}) end)
ci.job("c", {"quire/push"}, function(q) return {ok = true} end)
ci.job("d", {"b"}, function(q) q.sh({"true"}) end)
`)
	o := h.run()

	t.Run("Failed", func(t *testing.T) {
		j := o.wantState("a", "failed")
		if !strings.Contains(j.Error, "boom in a") {
			t.Errorf("error = %q, want the message", j.Error)
		}
		if j.StartedAtMS == 0 || j.FinishedAtMS < j.StartedAtMS {
			t.Errorf("stamps = %d..%d, want a start and a finish after it", j.StartedAtMS, j.FinishedAtMS)
		}
		if j.ExitCode != nil {
			t.Errorf("exit_code = %d, want NULL (no sh call)", *j.ExitCode)
		}
		log := text(o.lines(filepath.Join(o.jobDir("a"), "job.log")))
		for _, want := range []string{"stdout: before the error", "stderr: ", "boom in a", "stack traceback"} {
			if !strings.Contains(log, want) {
				t.Errorf("job.log lacks %q:\n%s", want, log)
			}
		}
	})
	t.Run("Skipped", func(t *testing.T) {
		for _, tc := range []struct{ job, cause string }{{"b", "'a'"}, {"d", "'b'"}} {
			j := o.wantState(tc.job, "skipped")
			if j.StartedAtMS != 0 || j.FinishedAtMS == 0 {
				t.Errorf("%s stamps = %d..%d, want no start and a finish", tc.job, j.StartedAtMS, j.FinishedAtMS)
			}
			if !strings.Contains(j.Error, tc.cause) {
				t.Errorf("%s error = %q, want it to name %s", tc.job, j.Error, tc.cause)
			}
			if evs := o.shEvents(tc.job); len(evs) != 0 {
				t.Errorf("%s has %d sh_events; its function must not run", tc.job, len(evs))
			}
		}
	})
	t.Run("IndependentJobRuns", func(t *testing.T) {
		o.wantState("c", "complete")
	})
	t.Run("Pipeline", func(t *testing.T) {
		// The declared graph is recorded, skipped jobs included, for
		// the web UI's job graph.
		got, err := o.store.ListPipeline(t.Context(), o.run.ID)
		if err != nil {
			t.Fatal(err)
		}
		var desc []string
		for _, j := range got {
			desc = append(desc, j.JobID+"<"+strings.Join(j.Inputs, ","))
		}
		if want := []string{"a<quire/push", "b<a", "c<quire/push", "d<b"}; !slices.Equal(desc, want) {
			t.Errorf("pipeline_jobs = %q, want %q", desc, want)
		}
	})
	t.Run("Order", func(t *testing.T) {
		if want := []string{"a", "b", "c", "d"}; !slices.Equal(o.order, want) {
			t.Errorf("rows in order %v, want %v", o.order, want)
		}
	})
	t.Run("Run", func(t *testing.T) {
		if o.run.State != "failed" || o.run.FailureKind != "job" || !strings.Contains(o.run.Error, "'a'") {
			t.Errorf("run = %s/%s %q, want failed/job naming 'a'", o.run.State, o.run.FailureKind, o.run.Error)
		}
		if o.res.State != "failed" || o.res.FailureKind != "job" {
			t.Errorf("result = %+v, want failed/job", o.res)
		}
	})
}

func TestRunner_ExitCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("nonzero", {"quire/push"}, function(q)
  local r = q.sh("exit 3")
  return {exit = r.exit}
end)
ci.job("check", {"quire/push"}, function(q)
  q.sh("exit 4", {check = true})
  return {reached = true}
end)
ci.job("last", {"quire/push"}, function(q) q.sh("exit 5"); q.sh("exit 6"); q.sh("exit 2") end)
ci.job("lastzero", {"quire/push"}, function(q) q.sh("exit 7"); q.sh({"true"}) end)
ci.job("nosh", {"quire/push"}, function(q) end)
`)
	o := h.run()

	tests := []struct {
		job   string
		state store.JobState
		exit  *int
	}{
		{"nonzero", "complete", ptr(3)},
		{"check", "failed", ptr(4)},
		{"last", "complete", ptr(2)},
		{"lastzero", "complete", ptr(0)},
		{"nosh", "complete", nil},
	}
	for _, tt := range tests {
		t.Run(tt.job, func(t *testing.T) {
			j := o.wantState(tt.job, tt.state)
			if !reflect.DeepEqual(j.ExitCode, tt.exit) {
				t.Errorf("exit_code = %v, want %v", deref(j.ExitCode), deref(tt.exit))
			}
		})
	}
	t.Run("NonZeroReturned", func(t *testing.T) {
		if got := o.outputs("nonzero")["exit"]; got != 3.0 {
			t.Errorf("r.exit = %v, want 3", got)
		}
	})
	t.Run("CheckMessage", func(t *testing.T) {
		j := o.job("check")
		if !strings.Contains(j.Error, "exit 4") || !strings.Contains(j.Error, "4") {
			t.Errorf("error = %q, want the command and its exit", j.Error)
		}
		if j.Outputs != "" {
			t.Errorf("outputs = %q; the function must stop at the failed check", j.Outputs)
		}
	})
}

func TestRunner_PipelineProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pipeline, want string
	}{
		{"EmptyInputs", "\nci.job(\"a\", {}, function(q) end)\n", ".quire/ci.lua:3: "},
		{"UnknownInput", "ci.job(\"a\", {\"quire/posh\"}, function(q) end)\n", ".quire/ci.lua:2: "},
		{"SyntaxError", "ci.job(\"a\", {\"quire/push\"}, function(q) end\n\nlocal = 1\n", ".quire/ci.lua:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newHarness(t, tc.pipeline).run()
			if o.run.State != "failed" || o.run.FailureKind != "pipeline" {
				t.Errorf("run = %s/%s, want failed/pipeline", o.run.State, o.run.FailureKind)
			}
			if !strings.Contains(o.run.Error, tc.want) {
				t.Errorf("runs.error = %q, want it to contain %q", o.run.Error, tc.want)
			}
			if !regexp.MustCompile(`\.quire/ci\.lua:\d+: `).MatchString(o.run.Error) {
				t.Errorf("runs.error = %q, want a .quire/ci.lua:<line>: position", o.run.Error)
			}
			if len(o.jobs) != 0 {
				t.Errorf("jobs rows = %v, want none", o.order)
			}
			if o.run.StartedAtMS == 0 || o.run.FinishedAtMS == 0 {
				t.Errorf("run stamps %d..%d, want both", o.run.StartedAtMS, o.run.FinishedAtMS)
			}
		})
	}
}

func TestRunner_PushSource(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("push", {"quire/push"}, function(q) return q.jobs("quire/push") end)
`)
	h.repo.Write("a.txt", "a\n")
	first := h.commit("first")
	pushedAt := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))

	t.Run("NewBranch", func(t *testing.T) {
		h.repo.Write("b.txt", "b\n")
		o := h.runPush(pushSpec{Options: []string{"ci.verbose", "x=y"}, PushedAt: pushedAt})
		got := o.outputs("push")
		want := map[string]any{
			"sha": o.sha, "ref": "refs/heads/main", "branch": "main", "repo": "repo.git",
			"pushed_at": "2025-03-04T04:06:07Z", "trigger": "push",
			"commit_message": "test commit", "author": "Test Author <author@example.com>",
			"files_changed": []any{"b.txt"}, "options": []any{"ci.verbose", "x=y"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("quire/push =\n%v\nwant\n%v", got, want)
		}
		if _, err := time.Parse(time.RFC3339, got["pushed_at"].(string)); err != nil {
			t.Errorf("pushed_at is not RFC 3339: %v", err)
		}
	})
	t.Run("TagReplayWithPrevious", func(t *testing.T) {
		h.repo.Write("c.txt", "c\n")
		sha := h.commit("tagged\n\nbody")
		if out, err := h.repo.Push("--quiet", "origin", "HEAD:refs/tags/v1.0"); err != nil {
			t.Fatalf("push tag: %v\n%s", err, out)
		}
		o := h.runSHA(sha, pushSpec{Ref: "refs/tags/v1.0", Previous: first, Trigger: "replay", PushedAt: pushedAt})
		got := o.outputs("push")
		want := map[string]any{
			"sha": sha, "ref": "refs/tags/v1.0", "tag": "v1.0", "previous_sha": first,
			"repo": "repo.git", "pushed_at": "2025-03-04T04:06:07Z", "trigger": "replay",
			"commit_message": "tagged\n\nbody", "author": "Test Author <author@example.com>",
			"files_changed": []any{"b.txt", "c.txt"}, "options": map[string]any{},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("quire/push =\n%v\nwant\n%v", got, want)
		}
		if o.run.Trigger != "replay" || o.run.Ref != "refs/tags/v1.0" || o.run.SHA != sha {
			t.Errorf("run row = %s %s %s", o.run.Trigger, o.run.Ref, o.run.SHA)
		}
	})
}

func TestRunner_HandleFields(t *testing.T) {
	t.Parallel()
	pipeline := `
ci.job("logger", {"quire/push"}, function(q)
  q.log("hello", 42, true)
  print("from print")
  q.log("two\nlines")
  return {ws = q.workspace, run = q.run_id, job = q.job_id, env = q.env("QUIRE_TEST_VALUE")}
end)
`
	t.Run("Removed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, pipeline)
		h.Env = []string{"QUIRE_TEST_VALUE=from the hook"}
		o := h.run()
		ws := filepath.Join(o.runDir, "workspace")
		want := map[string]any{"ws": ws, "run": o.res.RunID, "job": "logger", "env": "from the hook"}
		if got := o.outputs("logger"); !reflect.DeepEqual(got, want) {
			t.Errorf("outputs = %v, want %v", got, want)
		}
		if o.run.WorkspacePath != ws {
			t.Errorf("runs.workspace_path = %q, want %q", o.run.WorkspacePath, ws)
		}
		got := text(o.lines(filepath.Join(o.jobDir("logger"), "job.log")))
		wantLog := "stdout: hello\t42\ttrue\nstdout: from print\nstdout: two\nstdout: lines\n"
		if got != wantLog {
			t.Errorf("job.log =\n%q\nwant\n%q", got, wantLog)
		}
		if _, err := os.Stat(ws); !os.IsNotExist(err) {
			t.Errorf("workspace after the run: %v, want it removed", err)
		}
		if _, err := os.Stat(filepath.Join(o.jobDir("logger"), "job.log")); err != nil {
			t.Errorf("logs must stay: %v", err)
		}
	})
	t.Run("Kept", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, pipeline)
		h.Settings.KeepWorkspace = true
		h.repo.Write("dir/file.txt", "content\n")
		o := h.run()
		ws := filepath.Join(o.runDir, "workspace")
		if data, err := os.ReadFile(filepath.Join(ws, "dir/file.txt")); err != nil || string(data) != "content\n" {
			t.Errorf("kept workspace file = %q, %v", data, err)
		}
		if _, err := os.Stat(filepath.Join(ws, ".git")); !os.IsNotExist(err) {
			t.Errorf("workspace has .git: %v", err)
		}
	})
}

func ptr(n int) *int { return &n }

func deref(p *int) any {
	if p == nil {
		return "NULL"
	}
	return *p
}
