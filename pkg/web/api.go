package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/diagram"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// apiRuns is GET /api/runs: the runs --json objects of one page of runs
// (filters repo, ref, state, limit and the cursor before, as on the runs
// page), newest first. A Link header (rel="next") names the next page.
func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rq, err := parseRunQuery(r.URL.Query())
	if err != nil {
		s.apiError(w, err)
		return
	}
	runs, more, err := s.listRuns(ctx, rq)
	if err != nil {
		s.apiError(w, err)
		return
	}
	out := make([]report.RunJSON, 0, len(runs))
	for _, l := range runs {
		j := report.NewRunJSON(l.run, l.src.root)
		j.Repo = l.repo
		out = append(out, j)
	}
	if more {
		q := r.URL.Query()
		last := runs[len(runs)-1].run
		q.Set("before", fmt.Sprintf("%d.%s", last.QueuedAtMS, last.ID))
		w.Header().Set("Link", "<"+s.url("/api/runs")+"?"+q.Encode()+`>; rel="next"`)
	}
	writeJSON(w, r, http.StatusOK, out)
}

// apiRun is GET /api/runs/<id>: the show --json object of a run.
func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := s.findRun(ctx, r.PathValue("id"))
	if err != nil {
		s.apiError(w, err)
		return
	}
	rec, err := report.Load(ctx, f.src.store, f.run.ID)
	if err != nil {
		s.apiError(w, err)
		return
	}
	out := report.NewRecordJSON(rec, f.src.root)
	out.Run.Repo = f.repo
	writeJSON(w, r, http.StatusOK, out)
}

// apiError answers err as {"error": "...", "status": 404} with that
// status.
func (s *Server) apiError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var bad *badRequest
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.As(err, &bad):
		status = http.StatusBadRequest
	}
	writeJSON(w, nil, status, struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}{err.Error(), status})
}

// writeJSON writes v as indented JSON.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encode json: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

// badge is GET /badge/<repo>/<ref>.svg: "quire | passing" (or failing,
// running) for the latest run of a branch (main) or ref (refs/tags/v1).
// The repo is the longest known repository name the path starts with,
// since both may hold slashes.
func (s *Server) badge(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := strings.CutSuffix(r.PathValue("path"), ".svg")
	if !ok {
		s.notFound(w, r, "a badge is /badge/<repo>/<ref>.svg")
		return
	}
	cat := s.opts.Sources.catalog(ctx)
	var repo Repo
	for _, c := range cat.repos {
		if strings.HasPrefix(p, c.Name+"/") && len(c.Name) > len(repo.Name) {
			repo = c
		}
	}
	ref := strings.TrimPrefix(p, repo.Name+"/")
	if repo.Name == "" || ref == "" {
		s.notFound(w, r, "no repository here is named by "+short(p, 200))
		return
	}
	message := "unknown"
	for _, src := range cat.sources {
		if src.root != repo.Root || src.store == nil {
			continue
		}
		runs, err := report.ListRuns(ctx, src.store, store.RunFilter{Repo: repo.Stored, Ref: ref, Limit: 20})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, run := range runs {
			if m := badgeMessage(run.State); m != "" {
				message = m
				break
			}
		}
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Cache-Control", "max-age=10")
	if s.opts.Auth != nil {
		h.Set("Cache-Control", "private, max-age=10")
	}
	// The badge is its own document: no script in it may run even when
	// opened directly.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if r.Method != http.MethodHead {
		w.Write(diagram.Badge("quire", message, diagram.BadgeColor(message)))
	}
}

// badgeMessage is what a badge says of a run in state st; "" for a
// superseded run, which says nothing of its ref (the next run does).
func badgeMessage(st store.RunState) string {
	switch st {
	case store.RunComplete:
		return "passing"
	case store.RunFailed:
		return "failing"
	case store.RunPending, store.RunActive:
		return "running"
	}
	return ""
}
