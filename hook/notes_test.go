package hook_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// notesPipeline runs job test, then build; test fails for a commit
// whose message is "fails".
const notesPipeline = `
local ci = require("quire.ci")
ci.job("test", {"quire/push"}, function(q)
  if q.jobs("quire/push").commit_message == "fails" then error("tests broke") end
  q.sh("true")
end)
ci.job("build", {"test"}, function(q) q.sh("true") end)
`

// noteLine is one line of a run's git note (SPEC §13).
type noteLine struct {
	V           int               `json:"v"`
	Agent       string            `json:"agent"`
	Run         string            `json:"run"`
	Ref         string            `json:"ref"`
	Trigger     string            `json:"trigger"`
	State       string            `json:"state"`
	FailureKind *string           `json:"failure_kind"`
	Jobs        map[string]string `json:"jobs"`
	Started     string            `json:"started"`
	Finished    string            `json:"finished"`
}

// noteLines reads the note of sha under ref in the repository gitDir
// with the git CLI; none is no lines.
func (r *repo) noteLines(gitDir, ref, sha string) []noteLine {
	r.t.Helper()
	out, err := r.TryGit(gitDir, "notes", "--ref="+ref, "show", sha)
	if err != nil {
		if strings.Contains(out, "no note found") {
			return nil
		}
		r.t.Fatalf("git notes show %s: %v\n%s", sha, err, out)
	}
	var lines []noteLine
	for _, l := range strings.Split(out, "\n") {
		var nl noteLine
		if err := json.Unmarshal([]byte(l), &nl); err != nil {
			r.t.Fatalf("note line %q: %v", l, err)
		}
		lines = append(lines, nl)
	}
	return lines
}

func TestNotes_PushAndReplay(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(notesPipeline)
	sha := r.Commit("notes")
	r.push()
	first, _, _ := r.lastRun()

	t.Run("Push", func(t *testing.T) {
		lines := r.noteLines(r.Bare, "quire", sha)
		if len(lines) != 1 {
			t.Fatalf("got %d note lines, want 1: %+v", len(lines), lines)
		}
		l := lines[0]
		if l.V != 1 || l.Agent != "quire-hook" || l.Run != first.ID || l.Ref != "refs/heads/main" || l.Trigger != "push" ||
			l.State != "complete" || l.FailureKind != nil || fmt.Sprint(l.Jobs) != "map[build:complete test:complete]" {
			t.Errorf("note line %+v", l)
		}
		for _, ts := range []string{l.Started, l.Finished} {
			if _, err := time.Parse(time.RFC3339, ts); err != nil {
				t.Errorf("time %q: %v", ts, err)
			}
		}
		raw := r.Git(r.Bare, "notes", "--ref=quire", "show", sha)
		if !strings.HasPrefix(raw, `{"v":1,"agent":"quire-hook","run":"`+first.ID+`","ref":"refs/heads/main","trigger":"push","state":"complete","failure_kind":null,"jobs":{"test":"complete","build":"complete"},"started":"`) {
			t.Errorf("raw note %s: keys or jobs out of order", raw)
		}
	})
	t.Run("ReplayAddsALine", func(t *testing.T) {
		if out, code := r.quire("", "--git-dir", r.Bare, "replay", "main"); code != 0 {
			t.Fatalf("replay: exit %d\n%s", code, out)
		}
		second, _, _ := r.lastRun()
		lines := r.noteLines(r.Bare, "quire", sha)
		if len(lines) != 2 || lines[0].Run != first.ID || lines[1].Run != second.ID || lines[1].Trigger != "replay" {
			t.Errorf("note lines %+v, want the push's then the replay's", lines)
		}
	})
	t.Run("Failed", func(t *testing.T) {
		failed := r.Commit("fails")
		r.push()
		run, _, _ := r.lastRun()
		lines := r.noteLines(r.Bare, "quire", failed)
		if len(lines) != 1 || lines[0].Run != run.ID || lines[0].State != "failed" || lines[0].FailureKind == nil ||
			*lines[0].FailureKind != "job" || lines[0].Jobs["test"] != "failed" || lines[0].Jobs["build"] != "skipped" {
			t.Errorf("note lines %+v", lines)
		}
	})
	t.Run("LogOnBareAndClone", func(t *testing.T) {
		log := r.Git(r.Bare, "log", "--notes=quire", "main")
		if strings.Count(log, `"agent":"quire-hook"`) != 3 || !strings.Contains(log, "Notes (quire):") {
			t.Errorf("git log --notes=quire on the bare repo:\n%s", log)
		}
		clone := filepath.Join(t.TempDir(), "clone")
		r.Git(r.Work, "clone", "--quiet", r.Bare, clone)
		r.Git(clone, "fetch", "--quiet", "origin", "refs/notes/quire:refs/notes/quire")
		log = r.Git(clone, "log", "--notes=quire", "--format=%H %N", "main")
		for _, want := range []string{sha + ` {"v":1`, `"state":"failed","failure_kind":"job","jobs":{"test":"failed","build":"skipped"}`} {
			if !strings.Contains(log, want) {
				t.Errorf("git log --notes=quire on a clone lacks %q:\n%s", want, log)
			}
		}
		if got := r.Git(clone, "notes", "--ref=quire", "show", sha); strings.Count(got, "\n") != 1 {
			t.Errorf("git notes show on the clone: %q, want two lines", got)
		}
	})
}

func TestNotes_Config(t *testing.T) {
	for _, c := range []struct{ name, config, ref string }{
		{"Off", `return { notes = false }`, ""},
		{"Ref", `return { notes_ref = "refs/notes/ci" }`, "ci"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRepo(t)
			config := filepath.Join(t.TempDir(), "config.lua")
			writeFile(t, config, c.config)
			r.Env = append(r.Env, "QUIRE_CONFIG="+config)
			r.Pipeline(notesPipeline)
			sha := r.Commit("notes")
			r.push()
			refs := r.Git(r.Bare, "for-each-ref", "--format=%(refname)", "refs/notes/")
			if c.ref == "" {
				if refs != "" {
					t.Errorf("notes = false wrote %s", refs)
				}
				return
			}
			if refs != "refs/notes/"+c.ref {
				t.Errorf("notes refs %q, want only refs/notes/%s", refs, c.ref)
			}
			if lines := r.noteLines(r.Bare, c.ref, sha); len(lines) != 1 || lines[0].State != "complete" {
				t.Errorf("note lines %+v", lines)
			}
		})
	}
	t.Run("RefNotUnderNotes", func(t *testing.T) {
		r := newRepo(t)
		config := filepath.Join(t.TempDir(), "config.lua")
		writeFile(t, config, `return { notes_ref = "refs/heads/ci" }`)
		r.Env = append(r.Env, "QUIRE_CONFIG="+config)
		r.Pipeline(notesPipeline)
		r.Commit("notes")
		out, _ := r.Push("origin", "main")
		wantContains(t, out, `notes_ref "refs/heads/ci" must be a ref name under refs/notes/`)
	})
}

// TestNotes_ConcurrentReplays replays ten commits at once, ten
// processes of the binary running side by side: every run's line must
// be in its commit's note.
func TestNotes_ConcurrentReplays(t *testing.T) {
	r := newRepo(t)
	config := filepath.Join(t.TempDir(), "config.lua")
	writeFile(t, config, `return { max_parallel_runs = 10, notes = true }`)
	r.Env = append(r.Env, "QUIRE_CONFIG="+config)
	r.Pipeline(notesPipeline)
	var shas []string
	for i := range 10 {
		shas = append(shas, r.Commit(fmt.Sprintf("commit %d", i)))
	}
	r.push()

	var wg sync.WaitGroup
	outs := make([]string, len(shas))
	codes := make([]int, len(shas))
	for i, sha := range shas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = runBin(t, r.Env, r.Work, "", "--git-dir", r.Bare, "replay", "--ref", fmt.Sprintf("refs/heads/r%d", i), sha)
		}()
	}
	wg.Wait()
	for i := range shas {
		if codes[i] != 0 || strings.Contains(outs[i], "warning") {
			t.Errorf("replay %d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	runs := r.runs()
	byRef := map[string]string{}
	for _, run := range runs {
		byRef[run.Ref] = run.ID
	}
	for i, sha := range shas {
		lines := r.noteLines(r.Bare, "quire", sha)
		want := 1
		if i == len(shas)-1 {
			want = 2 // the push's run too
		}
		var replayed []string
		for _, l := range lines {
			if l.Trigger == "replay" {
				replayed = append(replayed, l.Run)
			}
		}
		if len(lines) != want || len(replayed) != 1 || replayed[0] != byRef[fmt.Sprintf("refs/heads/r%d", i)] {
			t.Errorf("commit %d: note lines %+v, want %d with the replay of run %s", i, lines, want, byRef[fmt.Sprintf("refs/heads/r%d", i)])
		}
	}
	r.Git(r.Bare, "fsck", "--strict", "--no-dangling")
}

// TestNotes_Mirror mirrors the notes ref with ci.mirror's refs to
// another bare repository; a run's own line is written after its jobs,
// so it reaches the mirror with the next run.
func TestNotes_Mirror(t *testing.T) {
	for _, c := range []struct{ name, refs string }{
		{"Named", `"refs/heads/main", "refs/notes/quire"`},
		{"Pattern", `"refs/heads/main", "refs/notes/*:refs/notes/*"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := newTarget(t, t.TempDir(), "mirror.git")
			r := newRepo(t)
			r.Pipeline(fmt.Sprintf(`
local ci = require("quire.ci")
ci.job("test", {"quire/push"}, function(q) q.sh("true") end)
ci.mirror(%q, { refs = { %s }, after = {"test"} })
`, target, c.refs))
			first := r.Commit("first")
			progress := r.push()
			if run, jobs, _ := r.lastRun(); run.State != "complete" {
				t.Fatalf("run %s: mirror %s %q\n%s", run.State, jobs["quire/mirror"].State, jobs["quire/mirror"].Error, progress)
			}
			second := r.Commit("second")
			r.push()
			if run, jobs, _ := r.lastRun(); run.State != "complete" {
				t.Fatalf("run %s: mirror %s %q", run.State, jobs["quire/mirror"].State, jobs["quire/mirror"].Error)
			}
			if got := r.Git(target, "rev-parse", "main"); got != second {
				t.Errorf("mirror main = %s, want %s", got, second)
			}
			if lines := r.noteLines(target, "quire", first); len(lines) != 1 || lines[0].State != "complete" {
				t.Errorf("mirror's note of the first commit: %+v", lines)
			}
			if lines := r.noteLines(target, "quire", second); len(lines) != 0 {
				t.Errorf("mirror's note of the second commit: %+v; its line is written after the mirror job", lines)
			}
		})
	}
}
