package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"

	"github.com/quire-ci/quire-hook/pkg/diagram"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// trendRuns is how many runs a job's trend covers.
const trendRuns = 50

// maxTrendJobs bounds the jobs one trends page draws.
const maxTrendJobs = 40

// trendsPage draws, per job of a repository (or the one job=), the
// durations of its last 50 runs and its failure rate.
func (s *Server) trendsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, only := r.URL.Query().Get("repo"), r.URL.Query().Get("job")
	cat := s.opts.Sources.catalog(ctx)
	repo, ok := cat.byName[name]
	if !ok {
		s.fail(w, r, fmt.Errorf("no repository is named %q here: %w", short(name, 200), store.ErrNotFound))
		return
	}
	var src *source
	for _, c := range cat.sources {
		if c.root == repo.Root && c.store != nil {
			src = c
		}
	}
	if src == nil {
		s.fail(w, r, fmt.Errorf("the database of %s cannot be read: %w", repo.Name, store.ErrNotFound))
		return
	}

	// The jobs: the one asked for, else those of the repo's latest runs.
	var ids []string
	if only != "" {
		ids = []string{only}
	} else {
		runs, err := src.store.ListRuns(ctx, store.RunFilter{Repo: repo.Stored, Limit: 20})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, run := range runs {
			jobs, err := src.store.ListJobs(ctx, run.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			for _, j := range jobs {
				if !slices.Contains(ids, j.JobID) && len(ids) < maxTrendJobs {
					ids = append(ids, j.JobID)
				}
			}
		}
	}

	type jobTrend struct {
		ID, URL, Rate, Median string
		Failed, Total         int
		Chart                 template.HTML
	}
	data := struct {
		page
		Repo, Job string
		Jobs      []jobTrend
	}{page: s.page("Trends of " + repo.Name), Repo: repo.Name, Job: only}
	for _, id := range ids {
		hist, err := src.store.JobHistory(ctx, repo.Stored, id, trendRuns)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(hist) == 0 {
			continue
		}
		t := jobTrend{ID: id, URL: s.url("/trends") + "?" + url.Values{"repo": {repo.Name}, "job": {id}}.Encode()}
		var points []diagram.Point
		var took []int64
		for i := len(hist) - 1; i >= 0; i-- { // oldest first
			h := hist[i]
			d := int64(0)
			if h.Job.StartedAtMS != 0 && h.Job.FinishedAtMS != 0 {
				d = h.Job.FinishedAtMS - h.Job.StartedAtMS
				took = append(took, d)
			}
			points = append(points, diagram.Point{RunID: h.Run.ID, DurationMS: d, State: string(h.Job.State),
				Href: s.url("/runs/" + url.PathEscape(h.Run.ID))})
			if h.Job.State.Ended() {
				t.Total++
				if h.Job.State == store.JobFailed || h.Job.State == store.JobAborted {
					t.Failed++
				}
			}
		}
		t.Rate = "no ended run"
		if t.Total > 0 {
			t.Rate = fmt.Sprintf("%.0f%% failed", 100*float64(t.Failed)/float64(t.Total))
		}
		t.Median = "-"
		if len(took) > 0 {
			slices.Sort(took)
			t.Median = duration(took[len(took)/2])
		}
		t.Chart = diagram.Trend(points)
		data.Jobs = append(data.Jobs, t)
	}
	s.render(w, r, "trends", http.StatusOK, data)
}
