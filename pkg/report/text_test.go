package report_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ünïcode", "plain text, ünïcode"},
		{"esc \x1b[31m bell \x07 del \x7f", `esc \x1b[31m bell \x07 del \x7f`},
		{"tab\tnewline\n", `tab\x09newline\x0a`},
		{"c1 \u009b", `c1 \u009b`},
		{"bad \xff\xfe", `bad \xff\xfe`},
	} {
		if got := report.Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPrintRuns(t *testing.T) {
	t.Run("None", func(t *testing.T) {
		var b bytes.Buffer
		report.PrintRuns(&b, nil)
		if got := b.String(); got != "no runs\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("Escaped", func(t *testing.T) {
		f := newFixture(t)
		r := f.run("01a00000-0000-7000-8000-000000000001", "team/tools.git", "refs/heads/\x1b[2Jx", store.RunFailed, 1_700_000_000_000)
		r.Subject = "subject \x1b]0;owned\x07 \xff"
		r.Author = "Ann <ann@example.com>"
		var b bytes.Buffer
		report.PrintRuns(&b, []store.Run{r})
		out := b.String()
		if strings.ContainsAny(out, "\x1b\x07") || strings.Contains(out, "\xff") {
			t.Errorf("control or invalid bytes printed: %q", out)
		}
		for _, want := range []string{"ID  ", r.ID, `refs/heads/\x1b[2Jx`, "cccccccccc  ", "failed (job)", "2.5s", "Ann  ", `subject \x1b]0;owned\x07 \xff`} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestRecord(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	run := f.run("01a00000-0000-7000-8000-000000000002", "repo.git", "refs/heads/main", store.RunActive, 1_700_000_000_000)
	exit := 0
	f.must(f.store.StartJob(ctx, run.ID, "build", run.StartedAtMS))
	f.must(f.store.FinishJob(ctx, run.ID, "build", store.JobComplete, &exit, "", `{"n":1}`, run.StartedAtMS+700))
	f.must(f.store.StartJob(ctx, run.ID, "test", run.StartedAtMS+700))
	f.must(f.store.AddShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "build", Seq: 1, StartedAtMS: run.StartedAtMS + 10,
		FinishedAtMS: run.StartedAtMS + 510, Cmd: "make \x1b[1m", StdoutBytes: 3}))
	f.must(f.store.StartShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "test", Seq: 1, StartedAtMS: run.StartedAtMS + 800, Cmd: "go test"}))

	rec, err := report.Load(ctx, f.store, run.ID[:8])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Run.ID != run.ID || len(rec.Jobs) != 2 || len(rec.ShEvents) != 2 {
		t.Fatalf("Load: run %s, %d jobs, %d sh calls; want %s, 2, 2", rec.Run.ID, len(rec.Jobs), len(rec.ShEvents), run.ID)
	}

	t.Run("JSON", func(t *testing.T) {
		data, err := json.Marshal(report.NewRecordJSON(rec, f.root))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Run      map[string]any   `json:"run"`
			Jobs     []map[string]any `json:"jobs"`
			ShEvents []map[string]any `json:"sh_events"`
		}
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		runDir := filepath.Join(string(f.root), "runs", run.ID)
		checks := []struct {
			what      string
			got, want any
		}{
			{"run.dir", got.Run["dir"], runDir},
			{"run.ref_name", got.Run["ref_name"], "refs/heads/main"},
			{"run.finished_at_ms", got.Run["finished_at_ms"], nil},
			{"run.duration_ms", got.Run["duration_ms"], nil},
			{"run.failure_kind", got.Run["failure_kind"], nil},
			{"jobs[0].outputs", got.Jobs[0]["outputs"], map[string]any{"n": 1.0}},
			{"jobs[0].duration_ms", got.Jobs[0]["duration_ms"], 700.0},
			{"jobs[0].log", got.Jobs[0]["log"], filepath.Join(runDir, "jobs", "build", "job.log")},
			{"jobs[1].outputs", got.Jobs[1]["outputs"], nil},
			{"jobs[1].exit_code", got.Jobs[1]["exit_code"], nil},
			{"sh_events[0].exit_code", got.ShEvents[0]["exit_code"], 0.0},
			{"sh_events[0].log", got.ShEvents[0]["log"], filepath.Join(runDir, "jobs", "build", "sh-1.log")},
			{"sh_events[1].exit_code", got.ShEvents[1]["exit_code"], nil},
			{"sh_events[1].finished_at_ms", got.ShEvents[1]["finished_at_ms"], nil},
		}
		for _, c := range checks {
			if g, _ := json.Marshal(c.got); string(g) != mustJSON(t, c.want) {
				t.Errorf("%s = %s, want %s", c.what, g, mustJSON(t, c.want))
			}
		}
	})
	t.Run("Text", func(t *testing.T) {
		var b bytes.Buffer
		report.PrintRecord(&b, rec, f.root)
		out := b.String()
		if strings.Contains(out, "\x1b") {
			t.Errorf("escape printed: %q", out)
		}
		for _, want := range []string{
			"run      " + run.ID, "state    active\n", "duration -\n", "pusher   -\n",
			"build  complete  700ms", `{"n":1}`,
			"500ms     make \\x1b[1m",
			filepath.Join(string(f.root), "runs", run.ID, "jobs", "test", "sh-1.log"),
			"running",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestShellWord(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/srv/git/x.git", "/srv/git/x.git"},
		{"/srv/my repos/x.git", "'/srv/my repos/x.git'"},
		{"/srv/it's.git", `'/srv/it'\''s.git'`},
		{"", "''"},
	} {
		if got := report.ShellWord(c.in); got != c.want {
			t.Errorf("ShellWord(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
