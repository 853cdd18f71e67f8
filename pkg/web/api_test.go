package web_test

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// keys are the JSON keys of v marshalled.
func keys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(b, &m))
	return slices.Sorted(maps.Keys(m))
}

func TestAPI_Runs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	want := []string{idActive, idTeam2, idPending, idOld, idSuperseded, idFailed, idComplete}
	var got []string
	next := "/api/runs?limit=3"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := f.get(t, next, 200)
		checkHeaders(t, r, "application/json; charset=utf-8")
		var runs []map[string]any
		must(t, json.Unmarshal([]byte(r.body), &runs))
		for _, run := range runs {
			got = append(got, run["id"].(string))
			if k := slices.Sorted(maps.Keys(run)); !slices.Equal(k, keys(t, report.RunJSON{})) {
				t.Fatalf("run keys %v, want those of runs --json %v", k, keys(t, report.RunJSON{}))
			}
		}
		next = ""
		if link := r.header.Get("Link"); link != "" {
			u, rel, ok := strings.Cut(strings.TrimPrefix(link, "<"), ">; ")
			if !ok || rel != `rel="next"` {
				t.Fatalf("Link %q", link)
			}
			next = u
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged API runs:\n%v\nwant\n%v", got, want)
	}

	var runs []report.RunJSON
	must(t, json.Unmarshal([]byte(f.get(t, "/api/runs?repo=team2/tools.git", 200).body), &runs))
	if len(runs) != 1 || runs[0].Repo != "team2/tools.git" || runs[0].Subject == nil || *runs[0].Subject != strings.ToValidUTF8(hostile, "\uFFFD") {
		t.Errorf("team2's runs: %+v", runs)
	}
	// An empty list is [], not null.
	if b := f.get(t, "/api/runs?ref=nothing", 200).body; strings.TrimSpace(b) != "[]" {
		t.Errorf("no runs: %q, want []", b)
	}
}

func TestAPI_Run(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	r := f.get(t, "/api/runs/"+idComplete, 200)
	checkHeaders(t, r, "application/json; charset=utf-8")
	var got report.RecordJSON
	must(t, json.Unmarshal([]byte(r.body), &got))
	if got.Run.ID != idComplete || got.Run.Repo != "team1/tools.git" || len(got.Jobs) != 2 || len(got.Notifications) != 1 {
		t.Errorf("show --json of the complete run: %+v", got)
	}
	var m map[string]any
	must(t, json.Unmarshal([]byte(r.body), &m))
	if k := slices.Sorted(maps.Keys(m)); !slices.Equal(k, keys(t, report.RecordJSON{})) {
		t.Errorf("keys %v, want those of show --json %v", k, keys(t, report.RecordJSON{}))
	}

	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api/runs/" + runID(99), 404},
		{"/api/runs/" + url.PathEscape("<script>"), 404},
		{"/api/runs/0193", 400}, // ambiguous
		{"/api/runs?limit=x", 400},
		{"/api/runs?before=nope", 400},
		{"/api/runs?repo=nope", 404},
	} {
		r := f.get(t, tt.path, tt.want)
		checkHeaders(t, r, "application/json; charset=utf-8")
		var e struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" || e.Status != tt.want {
			t.Errorf("%s: body %q, want {error, status %d}", tt.path, r.body, tt.want)
		}
	}
}

func TestBadge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	ctx := t.Context()
	must(t, f.st2.CreateRun(ctx, store.Run{ID: runID(20), Repo: "tools.git", Ref: "refs/heads/release",
		SHA: "0123456789abcdef0123456789abcdef01234567", Trigger: "push", QueuedAtMS: f.t0, State: store.RunPending}))
	must(t, f.st2.StartRun(ctx, runID(20), f.t0+1, ""))
	must(t, f.st2.FinishRun(ctx, runID(20), store.RunComplete, "", "", f.t0+2))
	for _, tt := range []struct{ path, want string }{
		{"/badge/team2/tools.git/release.svg", "passing"},
		{"/badge/team2/tools.git/refs/heads/release.svg", "passing"},
		{"/badge/team2/tools.git/main.svg", "failing"},
		{"/badge/team1/tools.git/main.svg", "running"},
		{"/badge/team1/tools.git/dev.svg", "running"}, // pending after a superseded run
		{"/badge/team1/tools.git/refs/tags/v1.svg", "failing"},
		{"/badge/team1/tools.git/nope.svg", "unknown"},
		{"/badge/team1/tools.git/" + url.PathEscape(strings.TrimPrefix(hostileRef, "refs/heads/")) + ".svg", "failing"},
	} {
		r := f.get(t, tt.path, 200)
		if ct := r.header.Get("Content-Type"); ct != "image/svg+xml" {
			t.Errorf("%s: Content-Type %q", tt.path, ct)
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("%s: Cache-Control %q", tt.path, cc)
		}
		if !strings.Contains(r.body, ">"+tt.want+"<") {
			t.Errorf("%s: badge lacks %q: %s", tt.path, tt.want, r.body)
		}
		if strings.Contains(r.body, "script") || strings.Contains(r.body, "onload") {
			t.Errorf("%s: markup in the badge: %s", tt.path, r.body)
		}
	}
}
