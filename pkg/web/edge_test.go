package web_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// TestLogs_NotWritten: a job that wrote no log yet has an empty page.
func TestLogs_NotWritten(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	base := "/runs/" + idOld
	r := f.get(t, base+"/log?job=lint", 200)
	if !strings.Contains(checkHTML(t, "", r.body), "No output") {
		t.Errorf("an unwritten log's page does not say No output")
	}
	if r := f.get(t, base+"/log.txt?job=lint", 200); r.body != "" {
		t.Errorf("an unwritten log's text: %q", r.body)
	}
	f.get(t, base+"/log.cri?job=lint", 404)
	// The active run's job is followed from the start.
	r = f.get(t, "/runs/"+idActive+"/log?job=build", 200)
	if !strings.Contains(r.body, `data-follow="/runs/`+idActive+`/log/events?`) {
		t.Errorf("a running job's empty log is not followed:\n%s", short(r.body))
	}
}

// TestRunPage_Graph: the job graph has a node per declared job, those
// not run yet too, and a run without pipeline_jobs rows has a node per
// recorded job.
func TestRunPage_Graph(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	for _, tt := range []struct {
		id    string
		nodes []string // "id state"
		edges int
	}{
		{idComplete, []string{"build complete", "test failed", "deploy not-run"}, 2},
		{idActive, []string{"build active", "test waiting"}, 1},
		{idOld, []string{"lint failed"}, 0},
		{idFailed, []string{`j"><img src=x onerro… failed`, "after not-run"}, 1}, // the id cut to fit
		{idPending, nil, 0},
	} {
		body := f.get(t, "/runs/"+tt.id, 200).body
		doc, err := html.Parse(strings.NewReader(body))
		must(t, err)
		var nodes []string
		edges := 0
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				switch {
				case n.Data == "g" && attr(n, "class") == "node":
					var id, state string
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.Data == "text" && attr(c, "class") == "id" {
							id = textOf(c)
						}
						if c.Data == "rect" {
							state = attr(c, "class")
						}
					}
					nodes = append(nodes, id+" "+strings.TrimPrefix(state, "st-"))
				case n.Data == "path" && attr(n, "class") == "edge":
					edges++
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if strings.Join(nodes, ", ") != strings.Join(tt.nodes, ", ") || edges != tt.edges {
			t.Errorf("run %s: nodes %q, %d edges; want %q, %d", tt.id, nodes, edges, tt.nodes, tt.edges)
		}
	}
}

// TestPages_HugeText: a pusher's huge commit subject, author and
// errors are cut on the pages, which stay small.
func TestPages_HugeText(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	ctx := t.Context()
	huge := strings.Repeat("<b>é", 1<<18) // 1.25 MiB
	id := runID(40)
	must(t, f.st2.CreateRun(ctx, store.Run{ID: id, Repo: "tools.git", Ref: "refs/heads/huge", SHA: "0123456789abcdef0123456789abcdef01234567",
		Trigger: "push", QueuedAtMS: f.t0, State: store.RunPending, Subject: huge, Author: huge, Pusher: huge}))
	must(t, f.st2.StartRun(ctx, id, f.t0+1, ""))
	must(t, f.st2.StartJob(ctx, id, "build", f.t0+2))
	must(t, f.st2.AddShEvent(ctx, store.ShEvent{RunID: id, JobID: "build", Seq: 1, StartedAtMS: f.t0 + 3, FinishedAtMS: f.t0 + 4, Cmd: huge}))
	one := 1
	must(t, f.st2.FinishJob(ctx, id, "build", store.JobFailed, &one, huge, jsonText(t, []string{huge}), f.t0+5))
	_, err := f.st2.AddNotification(ctx, store.Notification{RunID: id, Target: huge, Event: "failed", State: "failed", Error: huge})
	must(t, err)
	must(t, f.st2.FinishRun(ctx, id, store.RunFailed, store.FailJob, huge, f.t0+6))
	for _, tt := range []struct {
		path string
		max  int
	}{
		{"/", 256 << 10},
		{"/runs", 256 << 10},
		{"/runs?limit=500", 1 << 20},
		{"/runs/" + id, 1 << 20},
	} {
		r := f.get(t, tt.path, 200)
		if len(r.body) > tt.max {
			t.Errorf("%s: %d bytes, want at most %d", tt.path, len(r.body), tt.max)
		}
		if !strings.Contains(checkHTML(t, "", r.body), "<b>é<b>") {
			t.Errorf("%s: the start of the text is not shown", tt.path)
		}
	}
}

// TestFindRun_AmbiguousAcrossRoots: a prefix that names one run in each
// of two data roots names neither.
func TestFindRun_AmbiguousAcrossRoots(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	addRun(t, f.st1, runID(12), "tools.git", f.t0)
	addRun(t, f.st2, runID(13), "tools.git", f.t0)
	prefix := runID(12)[:len(runID(12))-1]
	f.get(t, "/runs/"+prefix, 400)
	f.get(t, "/api/runs/"+prefix, 400)
	f.get(t, "/runs/"+runID(13), 200)
}

// Under a base path, an unclean path is redirected to its clean form
// under the base path: the mux's own redirect would drop it.
func TestBasePath_CleanRedirect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{BasePath: "/ci"})
	client := *f.hs.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for path, want := range map[string]string{
		"/ci/runs/../runs":               "/ci/runs",
		"/ci//runs?state=failed":         "/ci/runs?state=failed",
		"/ci/static/../static/style.css": "/ci/static/style.css",
	} {
		res, err := client.Get(f.hs.URL + path)
		must(t, err)
		res.Body.Close()
		if got := res.Header.Get("Location"); res.StatusCode/100 != 3 || got != want {
			t.Errorf("GET %s: %d to %q, want a redirect to %q", path, res.StatusCode, got, want)
		}
	}
}
