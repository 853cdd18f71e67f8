package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestStore_OpenReader(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "quire.db")

	t.Run("Missing", func(t *testing.T) {
		if _, err := OpenReader(ctx, path); err == nil {
			t.Fatal("a missing database opened")
		}
		if _, err := OpenReader(ctx, path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v does not name the file", err)
		}
	})

	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustCreateRun(t, w, newRun("run-1", 1000))

	t.Run("ReadsAndNeverWrites", func(t *testing.T) {
		r, err := OpenReader(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.GetRun(ctx, "run-1"); err != nil {
			t.Errorf("GetRun: %v", err)
		}
		if err := r.CreateRun(ctx, newRun("run-2", 2000)); err == nil {
			t.Error("a reader wrote a run")
		}
		// What the writer adds later is seen.
		mustCreateRun(t, w, newRun("run-3", 3000))
		if _, err := r.GetRun(ctx, "run-3"); err != nil {
			t.Errorf("GetRun of a later run: %v", err)
		}
	})

	t.Run("OlderSchema", func(t *testing.T) {
		if err := rawExec(t, w, "PRAGMA user_version = 9"); err != nil {
			t.Fatal(err)
		}
		defer rawExec(t, w, fmt.Sprintf("PRAGMA user_version = %d", runColumnsVersion(t)))
		_, err := OpenReader(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "older than this quire-hook") {
			t.Errorf("got %v, want an error saying the schema is older", err)
		}
	})

	t.Run("NewerSchema", func(t *testing.T) {
		if err := rawExec(t, w, "PRAGMA user_version = 99"); err != nil {
			t.Fatal(err)
		}
		defer rawExec(t, w, fmt.Sprintf("PRAGMA user_version = %d", runColumnsVersion(t)))
		var tooNew *SchemaVersionError
		if _, err := OpenReader(ctx, path); !errors.As(err, &tooNew) {
			t.Errorf("got %v, want a SchemaVersionError", err)
		}
	})
}

// runColumnsVersion is the schema version this binary knows.
func runColumnsVersion(t *testing.T) int {
	t.Helper()
	s := openTest(t)
	var v int
	fmt.Sscan(queryRows(t, s, "PRAGMA user_version")[0]["user_version"], &v)
	return v
}

func TestStore_Pipeline(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))
	want := []PipelineJob{
		{JobID: "build", Inputs: []string{"quire/push"}},
		{JobID: "test", Inputs: []string{"build", "quire/push"}},
		{JobID: "lint", Inputs: []string{}},
	}
	if err := s.RecordPipeline(ctx, "run-1", want); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListPipeline(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b PipelineJob) bool { return a.JobID == b.JobID && slices.Equal(a.Inputs, b.Inputs) }) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, _ := s.ListPipeline(ctx, "run-none"); len(got) != 0 {
		t.Errorf("a run without a pipeline lists %v", got)
	}
	// A repeated job id is refused whole: nothing half-written.
	mustCreateRun(t, s, newRun("run-2", 2000))
	if err := s.RecordPipeline(ctx, "run-2", []PipelineJob{{JobID: "a"}, {JobID: "a"}}); err == nil {
		t.Error("a repeated job id was recorded")
	}
	if got, _ := s.ListPipeline(ctx, "run-2"); len(got) != 0 {
		t.Errorf("a failed RecordPipeline left %v", got)
	}
	// Deleting the run deletes its pipeline.
	if err := s.DeleteRun(ctx, "run-1"); err != nil {
		t.Fatal(err)
	}
	if rows := queryRows(t, s, "SELECT count(*) AS n FROM pipeline_jobs WHERE run_id = 'run-1'"); rows[0]["n"] != "0" {
		t.Errorf("pipeline rows outlived their run: %v", rows)
	}
}

func TestStore_ListRunsBefore(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	// Two runs share a millisecond: the cursor must not lose either.
	for i, q := range []int64{1000, 2000, 2000, 3000, 4000} {
		mustCreateRun(t, s, newRun(fmt.Sprintf("run-%d", i), q))
	}
	var seen []string
	f := RunFilter{Limit: 2}
	for range 10 {
		page, err := s.ListRuns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			seen = append(seen, r.ID)
		}
		f.Before = page[len(page)-1].Cursor()
	}
	if want := []string{"run-4", "run-3", "run-2", "run-1", "run-0"}; !slices.Equal(seen, want) {
		t.Errorf("paged through %v, want %v", seen, want)
	}
}

func TestStore_LatestPerRef(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	add := func(id, repo, ref string, q int64) {
		r := newRun(id, q)
		r.Repo, r.Ref = repo, ref
		mustCreateRun(t, s, r)
	}
	add("a1", "a.git", "refs/heads/main", 1000)
	add("a2", "a.git", "refs/heads/main", 3000)
	add("a3", "a.git", "refs/heads/dev", 2000)
	add("b1", "b.git", "refs/heads/main", 500)
	ids := func(runs []Run) []string {
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	all, err := s.LatestPerRef(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(all), []string{"a3", "a2", "b1"}; !slices.Equal(got, want) {
		t.Errorf("all repos: got %v, want %v", got, want)
	}
	one, err := s.LatestPerRef(ctx, "b.git", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(one), []string{"b1"}; !slices.Equal(got, want) {
		t.Errorf("b.git: got %v, want %v", got, want)
	}
}

func TestStore_JobHistory(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	for i := range 5 {
		id := fmt.Sprintf("run-%d", i)
		r := newRun(id, int64(1000*(i+1)))
		mustCreateRun(t, s, r)
		if err := s.StartRun(ctx, id, r.QueuedAtMS, ""); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			continue // this run never ran the job
		}
		if err := s.StartJob(ctx, id, "test", r.QueuedAtMS); err != nil {
			t.Fatal(err)
		}
		state, code := JobComplete, 0
		if i == 3 {
			state, code = JobFailed, 1
		}
		if err := s.FinishJob(ctx, id, "test", state, &code, "", "", r.QueuedAtMS+int64(100*i)); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := s.JobHistory(ctx, "foo.git", "test", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hist {
		got = append(got, fmt.Sprintf("%s %s %d", h.Run.ID, h.Job.State, h.Job.FinishedAtMS-h.Job.StartedAtMS))
	}
	if want := []string{"run-4 complete 400", "run-3 failed 300", "run-1 complete 100"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if hist, _ := s.JobHistory(ctx, "other.git", "test", 3); len(hist) != 0 {
		t.Errorf("another repo's history: %v", hist)
	}
}

// BenchmarkStore_RunsPage is the web UI's runs page query (SPEC §14: the
// runs page over 100,000 runs in at most 50 ms): a page of 50 from a
// cursor deep in the table, against a baseline of reading one run by id.
func BenchmarkStore_RunsPage(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	fill100k(b, s)
	cursor := RunCursor{QueuedAtMS: 50_000 * 1000, ID: "run-050000"}
	b.Run("GetRun", func(b *testing.B) {
		for range b.N {
			if _, err := s.GetRun(ctx, "run-050000"); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, f := range []RunFilter{
		{Limit: 50, Before: cursor},
		{Limit: 50, Repo: "repo-3.git", Before: cursor},
		{Limit: 50, Repo: "repo-3.git", Ref: "refs/heads/main", State: RunFailed},
	} {
		b.Run(fmt.Sprintf("Page/repo=%q,ref=%q,state=%q", f.Repo, f.Ref, f.State), func(b *testing.B) {
			for range b.N {
				if runs, err := s.ListRuns(ctx, f); err != nil || len(runs) != 50 {
					b.Fatalf("got %d runs, %v", len(runs), err)
				}
			}
		})
	}
	b.Run("LatestPerRef", func(b *testing.B) {
		for range b.N {
			if _, err := s.LatestPerRef(ctx, "", 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fill100k writes 100,000 ended runs over 10 repos and 3 refs each.
func fill100k(b *testing.B, s *Store) {
	b.Helper()
	err := rawExec(b, s, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
		INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, queued_at_ms,
			started_at_ms, finished_at_ms, state)
		SELECT printf('run-%06d', i), printf('repo-%d.git', i % 10),
			CASE i % 3 WHEN 0 THEN 'refs/heads/main' WHEN 1 THEN 'refs/heads/dev' ELSE 'refs/tags/v1' END,
			'0123456789abcdef0123456789abcdef01234567', 'push', i * 1000, i * 1000,
			i * 1000, i * 1000 + 500, CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'complete' END
		FROM n`)
	if err != nil {
		b.Fatal(err)
	}
}

func TestStore_ListShEventsCapped(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.StartRun(ctx, "run-1", 1000, ""))
	// A slice, not a map: the order the jobs start in is the order the
	// events come back in.
	for _, j := range []struct {
		id string
		n  int
	}{{"many", 25}, {"few", 3}} {
		must(s.StartJob(ctx, "run-1", j.id, 1000))
		for i := 1; i <= j.n; i++ {
			must(s.AddShEvent(ctx, ShEvent{RunID: "run-1", JobID: j.id, Seq: i, StartedAtMS: 1000, FinishedAtMS: 1001, Cmd: "true"}))
		}
	}
	events, calls, err := s.ListShEventsCapped(ctx, "run-1", 10)
	must(err)
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s/%d", e.JobID, e.Seq))
	}
	want := []string{"many/1", "many/2", "many/3", "many/4", "many/5", "many/21", "many/22", "many/23", "many/24", "many/25", "few/1", "few/2", "few/3"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if calls["many"] != 25 || calls["few"] != 3 {
		t.Errorf("calls %v, want many 25, few 3", calls)
	}

	// RunProgress moves with every change the page would show.
	before, err := s.RunProgress(ctx, "run-1")
	must(err)
	must(s.AddShEvent(ctx, ShEvent{RunID: "run-1", JobID: "few", Seq: 4, StartedAtMS: 1000, FinishedAtMS: 1001, Cmd: "true"}))
	after, err := s.RunProgress(ctx, "run-1")
	must(err)
	if before == after {
		t.Errorf("RunProgress %q did not change with a new sh call", after)
	}
	if _, err := s.RunProgress(ctx, "run-none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RunProgress of no run: %v, want ErrNotFound", err)
	}
}

func TestStore_LatestPerRefCapped(t *testing.T) {
	s := openTest(t)
	for i, ref := range []string{"a", "b", "c", "d"} {
		for _, repo := range []string{"x.git", "y.git"} {
			r := newRun(fmt.Sprintf("%s-%s", repo, ref), int64(1000+i))
			r.Repo, r.Ref = repo, "refs/heads/"+ref
			mustCreateRun(t, s, r)
		}
	}
	runs, err := s.LatestPerRef(t.Context(), "", 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, r.ID)
	}
	if want := []string{"x.git-a", "x.git-b", "y.git-a", "y.git-b"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
