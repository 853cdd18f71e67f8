package notes

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/redact"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestLine(t *testing.T) {
	run := store.Run{ID: "01a2", Ref: "refs/heads/main", Trigger: "push", State: store.RunFailed, FailureKind: store.FailJob,
		StartedAtMS: 1777629600000, FinishedAtMS: 1777629601500}
	jobs := []store.Job{{JobID: "test", State: store.JobFailed}, {JobID: "build", State: store.JobSkipped}}
	t.Run("Failed", func(t *testing.T) {
		got, err := Line(run, jobs, nil)
		want := `{"v":1,"agent":"quire-hook","run":"01a2","ref":"refs/heads/main","trigger":"push","state":"failed","failure_kind":"job",` +
			`"jobs":{"test":"failed","build":"skipped"},"started":"2026-05-01T10:00:00.000Z","finished":"2026-05-01T10:00:01.500Z"}`
		if err != nil || got != want {
			t.Errorf("got %s, %v\nwant %s", got, err, want)
		}
	})
	t.Run("NeverStarted", func(t *testing.T) {
		r := store.Run{ID: "01a3", Ref: "refs/heads/main", Trigger: "replay", State: store.RunSuperseded, FinishedAtMS: 1777629601500}
		got, err := Line(r, nil, nil)
		want := `{"v":1,"agent":"quire-hook","run":"01a3","ref":"refs/heads/main","trigger":"replay","state":"superseded","failure_kind":null,` +
			`"jobs":{},"started":null,"finished":"2026-05-01T10:00:01.500Z"}`
		if err != nil || got != want {
			t.Errorf("got %s, %v\nwant %s", got, err, want)
		}
	})
	t.Run("Redacted", func(t *testing.T) {
		secrets := new(redact.Set)
		if err := secrets.Add("token", "hunter2-token"); err != nil {
			t.Fatal(err)
		}
		r := run
		r.Ref = "refs/heads/hunter2-token"
		got, err := Line(r, []store.Job{{JobID: "a<b>&hunter2-token", State: store.JobComplete}}, secrets)
		if err != nil || strings.Contains(got, "hunter2") || !strings.Contains(got, `"ref":"refs/heads/{{ token }}"`) ||
			!strings.Contains(got, `"a<b>&{{ token }}":"complete"`) {
			t.Errorf("got %s, %v", got, err)
		}
	})
}

func TestReporter(t *testing.T) {
	ctx := t.Context()
	gitDir, commits := bareWithCommits(t, t.TempDir(), 1)
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "quire.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := store.Run{ID: "01a2", Repo: "repo.git", Ref: "refs/heads/main", SHA: commits[0], Trigger: "push", State: store.RunPending}
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, run.ID, store.RunSuperseded, "", "superseded by a newer push", 1777629601500); err != nil {
		t.Fatal(err)
	}
	run, err = s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Writes", func(t *testing.T) {
		var out bytes.Buffer
		Reporter{Store: s, Ref: "refs/notes/ci"}.RunEnded(ctx, runner.Ended{Run: run, Secrets: new(redact.Set), GitDir: gitDir,
			Progress: runner.NewProgress(&out, false, false)})
		if out.Len() != 0 {
			t.Errorf("progress: %s", out.String())
		}
		if got := runGit(t, gitDir, "notes", "--ref=ci", "show", commits[0]); !strings.Contains(got, `"run":"01a2"`) || !strings.Contains(got, `"state":"superseded"`) {
			t.Errorf("git notes show = %q", got)
		}
	})
	t.Run("FailureIsAWarning", func(t *testing.T) {
		var out bytes.Buffer
		Reporter{Store: s}.RunEnded(ctx, runner.Ended{Run: run, Secrets: new(redact.Set), GitDir: filepath.Join(t.TempDir(), "gone.git"),
			Progress: runner.NewProgress(&out, true, false)})
		if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "warning: git note of run 01a2 not written: append note of "+commits[0]) {
			t.Errorf("progress: %q, want one warning line", got)
		}
	})
}
