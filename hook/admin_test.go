package hook_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// adminPipeline has two jobs; build writes stdout, stderr, a line longer
// than a CRI record (16 KiB) and a job.log line.
const adminPipeline = `
local ci = require("quire.ci")
ci.job("build", {"quire/push"}, function(q)
  q.log("building " .. q.jobs("quire/push").ref)
  q.sh("echo out-line; echo err-line >&2; echo " .. string.rep("L", 20000))
  return {n = 1}
end)
ci.job("test", {"build"}, function(q)
  if q.jobs("quire/push").commit_message == "broken" then error("tests broke") end
  q.sh({"echo", "tested"})
end)
`

// longLine is what adminPipeline's build job prints on its last line.
var longLine = strings.Repeat("L", 20000)

func TestRuns(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(adminPipeline)
	r.Commit("one")
	r.push()                                           // 1: main, complete
	r.push("origin", "main:feature")                   // 2: feature, complete
	r.quire("", "--git-dir", r.Bare, "replay", "main") // 3: main, replay
	r.Commit("broken")
	r.push() // 4: main, failed (job)
	all := r.runs()
	if len(all) != 4 {
		t.Fatalf("%d runs, want 4", len(all))
	}
	ids := func(runs []store.Run) []string {
		var out []string
		for _, x := range runs {
			out = append(out, x.ID)
		}
		return out
	}
	jsonIDs := func(t *testing.T, args ...string) []string {
		t.Helper()
		out, code := r.quire("", append([]string{"--git-dir", r.Bare, "runs", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		var runs []map[string]any
		if err := json.Unmarshal([]byte(out), &runs); err != nil {
			t.Fatalf("parse %q: %v", out, err)
		}
		got := []string{}
		for _, x := range runs {
			got = append(got, x["id"].(string))
		}
		return got
	}

	t.Run("Table", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "runs")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID ") {
			t.Fatalf("want a header and 4 rows:\n%s", out)
		}
		for i, id := range ids(all) { // newest first
			if !strings.HasPrefix(lines[i+1], id+" ") {
				t.Errorf("row %d: %q, want run %s", i+1, lines[i+1], id)
			}
		}
		for _, field := range []string{"repo.git", "refs/heads/main", all[0].SHA[:10], "push", "failed (job)"} {
			if !strings.Contains(lines[1], field) {
				t.Errorf("row 1 lacks %q: %s", field, lines[1])
			}
		}
		wantContains(t, lines[2], "replay")
		wantContains(t, lines[3], "refs/heads/feature")
	})
	t.Run("Filters", func(t *testing.T) {
		main := []string{all[0].ID, all[1].ID, all[3].ID}
		cases := []struct {
			name string
			args []string
			want []string
		}{
			{"ShortRef", []string{"--ref", "main"}, main},
			{"FullRef", []string{"--ref", "refs/heads/main"}, main},
			{"State", []string{"--state", "failed"}, []string{all[0].ID}},
			{"Limit", []string{"--limit", "2"}, ids(all[:2])},
			{"RefAndLimit", []string{"--ref", "main", "--limit", "1"}, main[:1]},
			{"Repo", []string{"--repo", "repo.git"}, ids(all)},
			{"OtherRepo", []string{"--repo", "other.git"}, []string{}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := jsonIDs(t, c.args...); !slices.Equal(got, c.want) {
					t.Errorf("got %v, want %v", got, c.want)
				}
			})
		}
	})
	t.Run("JSON", func(t *testing.T) {
		out, _ := r.quire("", "--git-dir", r.Bare, "runs", "--json", "--limit", "1")
		var runs []map[string]any
		if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 {
			t.Fatalf("parse %q: %v", out, err)
		}
		wantKeys(t, runs[0], "id", "repo", "ref_name", "sha", "trigger", "state", "failure_kind", "error",
			"pushed_at_ms", "queued_at_ms", "started_at_ms", "finished_at_ms", "duration_ms",
			"container_id", "image_tag", "workspace_path", "owner_pid", "owner_host", "pusher", "author", "subject", "dir")
		if runs[0]["failure_kind"] != "job" || runs[0]["container_id"] != nil || runs[0]["dir"] != r.runDir(all[0].ID) {
			t.Errorf("run: %v", runs[0])
		}
	})
	t.Run("BadState", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "runs", "--state", "done")
		if code != 2 || strings.Count(out, "\n") != 1 {
			t.Errorf("exit %d, want 2 with one line:\n%s", code, out)
		}
		wantContains(t, out, `unknown state "done"`)
	})
}

func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("keys %v, want %v", got, keys)
	}
}

func TestShow_JSON(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(adminPipeline)
	r.Commit("one")
	r.push()
	run, _, _ := r.lastRun()

	// Flags may also follow the run id.
	out, code := r.quire("", "--git-dir", r.Bare, "show", run.ID[:8], "--json")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var got struct {
		Run      map[string]any   `json:"run"`
		Jobs     []map[string]any `json:"jobs"`
		ShEvents []map[string]any `json:"sh_events"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	if got.Run["id"] != run.ID || got.Run["state"] != "complete" || len(got.Jobs) != 2 || len(got.ShEvents) != 2 {
		t.Fatalf("got %+v", got)
	}
	build := got.Jobs[0]
	wantKeys(t, build, "job_id", "state", "exit_code", "started_at_ms", "finished_at_ms", "duration_ms", "error", "outputs", "log")
	if build["job_id"] != "build" || build["exit_code"] != 0.0 || build["error"] != nil {
		t.Errorf("build job: %v", build)
	}
	if outputs, _ := json.Marshal(build["outputs"]); string(outputs) != `{"n":1}` {
		t.Errorf("outputs %s, want {\"n\":1}", outputs)
	}
	sh := got.ShEvents[0]
	wantKeys(t, sh, "job_id", "seq", "cmd", "exit_code", "started_at_ms", "finished_at_ms", "duration_ms", "stdout_bytes", "stderr_bytes", "log_truncated", "log")
	if _, err := os.Stat(sh["log"].(string)); err != nil || sh["seq"] != 1.0 || sh["stderr_bytes"] != 9.0 {
		t.Errorf("sh event %v: %v", sh, err)
	}
	table, _ := r.quire("", "--git-dir", r.Bare, "show", run.ID[:8])
	wantContains(t, table, `{"n":1}`)
}

// headerTimes are the durations in header lines, which vary.
var headerTimes = regexp.MustCompile(` in [0-9.]+[µnm]?s\b`)

func TestLogs(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(adminPipeline)
	r.Commit("one")
	r.push()
	r.quire("", "--git-dir", r.Bare, "replay", "main")
	runs := r.runs()
	id := runs[0].ID

	t.Run("Run", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "logs", id)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		out = headerTimes.ReplaceAllString(out, " in T")
		wantLines(t, out,
			"==> job build: complete in T",
			"==> build job.log",
			"building refs/heads/main",
			"==> build sh-1 (exit 0): echo out-line; echo err-line >&2; echo LLL",
			"out-line",
			longLine,
			"==> job test: complete in T",
			"==> test sh-1 (exit 0): echo tested",
			"tested",
			"==> run complete in T",
		)
		wantLines(t, out, "! err-line")
	})
	t.Run("Job", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "logs", id, "test")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if want := "==> test sh-1 (exit 0): echo tested\ntested\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})
	t.Run("Timestamps", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "logs", "--timestamps", id, "build")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if strings.HasPrefix(l, "==> ") {
				continue
			}
			ts, content, _ := strings.Cut(l, " ")
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
				t.Errorf("line %.60q: timestamp: %v", l, err)
			}
			got = append(got, content)
		}
		sort.Strings(got)
		want := []string{"! err-line", longLine, "building refs/heads/main", "out-line"}
		if !slices.Equal(got, want) {
			t.Errorf("lines %.200q, want %.200q", got, want)
		}
	})
	t.Run("UnknownJob", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "logs", id, "deploy")
		if code != 2 {
			t.Errorf("exit %d, want 2:\n%s", code, out)
		}
		wantContains(t, out, `has no job "deploy" (jobs: build, test)`)
	})
	t.Run("TooShortPrefix", func(t *testing.T) {
		for _, cmd := range []string{"logs", "show"} {
			out, code := r.quire("", "--git-dir", r.Bare, cmd, id[:3])
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("%s: exit %d, want 2 with one line:\n%s", cmd, code, out)
			}
			wantContains(t, out, "a prefix needs at least 4 characters")
		}
	})
	t.Run("AmbiguousPrefix", func(t *testing.T) {
		a, b := runs[0].ID, runs[1].ID
		n := 0
		for n < len(a) && a[n] == b[n] {
			n++
		}
		// UUIDv7 ids start with the time in ms: runs made seconds apart
		// share far more than 4 characters.
		if n < 4 {
			t.Fatalf("runs %s and %s share fewer than 4 characters", a, b)
		}
		for _, cmd := range []string{"logs", "show"} {
			out, code := r.quire("", "--git-dir", r.Bare, cmd, a[:n])
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("%s: exit %d, want 2 with one line:\n%s", cmd, code, out)
			}
			wantContains(t, out, "ambiguous run id prefix")
			wantContains(t, out, a)
			wantContains(t, out, b)
		}
	})
}

// wantLines checks that out holds each of lines as a whole line (a
// line ending in "LLL" stands for any line with that start), in order.
func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	got := strings.Split(out, "\n")
	i := 0
	for _, want := range lines {
		for i < len(got) && got[i] != want && !(strings.HasSuffix(want, "LLL") && strings.HasPrefix(got[i], want)) {
			i++
		}
		if i == len(got) {
			t.Errorf("output lacks line %.80q (in this order):\n%.2000s", want, out)
			return
		}
		i++
	}
}
