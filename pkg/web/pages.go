package web

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quire-ci/quire-hook/pkg/diagram"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// refsShown is how many refs of a repository the repositories page
// lists (in name order); the runs page lists them all.
const refsShown = 100

// reposPage lists every repository with the latest run of each ref.
func (s *Server) reposPage(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), time.Now()
	cat := s.opts.Sources.catalog(ctx)
	type repoRow struct {
		Name string
		Refs []runView
		More bool // refsShown refs shown, and there may be more
	}
	data := struct {
		page
		Repos    []*repoRow
		Problems []string
	}{page: s.page("Repositories"), Problems: cat.problems}
	rows := map[string]*repoRow{}
	for _, src := range cat.sources {
		if src.store == nil {
			continue
		}
		runs, err := src.store.LatestPerRef(ctx, "", refsShown)
		if err != nil {
			data.Problems = append(data.Problems, err.Error())
			continue
		}
		for _, run := range runs {
			name := cat.name(src.root, run.Repo)
			row := rows[name]
			if row == nil {
				row = &repoRow{Name: name}
				rows[name] = row
				data.Repos = append(data.Repos, row)
			}
			row.Refs = append(row.Refs, s.view(run, name, now))
			row.More = len(row.Refs) >= refsShown
		}
	}
	slices.SortFunc(data.Repos, func(a, b *repoRow) int { return strings.Compare(a.Name, b.Name) })
	s.render(w, r, "repos", http.StatusOK, data)
}

// runsPageSize is how many runs a page of the runs list shows.
const runsPageSize = 50

// runQuery is a filter of the runs list as its URL query gives it.
type runQuery struct {
	Repo, Ref, State string
	Before           store.RunCursor
	Limit            int
}

// parseRunQuery reads repo, ref, state, before and limit.
func parseRunQuery(q url.Values) (runQuery, error) {
	rq := runQuery{Repo: q.Get("repo"), Ref: q.Get("ref"), State: q.Get("state"), Limit: runsPageSize}
	if rq.State != "" && !slices.Contains(runStates, store.RunState(rq.State)) {
		return rq, badf("unknown state %q; use one of pending, active, complete, failed, superseded", short(rq.State, 40))
	}
	if b := q.Get("before"); b != "" {
		ms, id, ok := strings.Cut(b, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || n < 0 || !validRunID(id) {
			return rq, badf("before=%q is not a cursor from this server's pages", short(b, 80))
		}
		rq.Before = store.RunCursor{QueuedAtMS: n, ID: id}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return rq, badf("limit=%q must be a number from 1 to 500", short(l, 40))
		}
		rq.Limit = n
	}
	return rq, nil
}

var runStates = []store.RunState{store.RunPending, store.RunActive, store.RunComplete, store.RunFailed, store.RunSuperseded}

// listed is a run of a list, with the web name of its repo.
type listed struct {
	run  store.Run
	repo string
	src  *source
}

// listRuns is one page of the runs matching rq, newest first, from every
// data root (or the one of rq.Repo), and whether more follow.
func (s *Server) listRuns(ctx context.Context, rq runQuery) ([]listed, bool, error) {
	cat := s.opts.Sources.catalog(ctx)
	type scope struct {
		src    *source
		stored string
	}
	var scopes []scope
	if rq.Repo != "" {
		repo, ok := cat.byName[rq.Repo]
		if !ok {
			return nil, false, fmt.Errorf("no repository is named %q here: %w", short(rq.Repo, 200), store.ErrNotFound)
		}
		for _, src := range cat.sources {
			if src.root == repo.Root {
				scopes = append(scopes, scope{src, repo.Stored})
			}
		}
	} else {
		for _, src := range cat.sources {
			scopes = append(scopes, scope{src: src})
		}
	}
	var all []listed
	for _, sc := range scopes {
		if sc.src.store == nil {
			continue
		}
		f := store.RunFilter{Repo: sc.stored, Ref: rq.Ref, State: store.RunState(rq.State), Limit: rq.Limit + 1, Before: rq.Before}
		runs, err := report.ListRuns(ctx, sc.src.store, f)
		if err != nil {
			return nil, false, err
		}
		for _, run := range runs {
			all = append(all, listed{run: run, repo: cat.name(sc.src.root, run.Repo), src: sc.src})
		}
	}
	slices.SortFunc(all, func(a, b listed) int {
		if c := cmp.Compare(b.run.QueuedAtMS, a.run.QueuedAtMS); c != 0 {
			return c
		}
		return strings.Compare(b.run.ID, a.run.ID)
	})
	more := len(all) > rq.Limit
	if more {
		all = all[:rq.Limit]
	}
	return all, more, nil
}

// runsPage lists runs, filtered and paged by a cursor.
func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), time.Now()
	rq, err := parseRunQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	runs, more, err := s.listRuns(ctx, rq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := struct {
		page
		Filter        runQuery
		RepoNames     []string
		States        []store.RunState
		Runs          []runView
		Older, Newest string
	}{page: s.page("Runs"), Filter: rq, States: runStates}
	for _, repo := range s.opts.Sources.catalog(ctx).repos {
		data.RepoNames = append(data.RepoNames, repo.Name)
	}
	for _, l := range runs {
		data.Runs = append(data.Runs, s.view(l.run, l.repo, now))
	}
	q := url.Values{}
	for k, v := range map[string]string{"repo": rq.Repo, "ref": rq.Ref, "state": rq.State} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if rq.Limit != runsPageSize {
		q.Set("limit", strconv.Itoa(rq.Limit))
	}
	if rq.Before.ID != "" {
		data.Newest = s.url("/runs") + "?" + q.Encode()
	}
	if more {
		last := runs[len(runs)-1].run
		q.Set("before", fmt.Sprintf("%d.%s", last.QueuedAtMS, last.ID))
		data.Older = s.url("/runs") + "?" + q.Encode()
	}
	s.render(w, r, "runs", http.StatusOK, data)
}

// jobView is a job of the run page.
type jobView struct {
	ID             string
	State          string
	Recorded       bool
	Took, ExitCode string
	Error, Outputs string
	Needs          []string
	LogURL         string
	TrendsURL      string
	Calls          []callView
	// Hidden calls are left out of Calls before Calls[HiddenAt].
	Hidden, HiddenAt int
	startMS, endMS   int64
}

// callView is an sh call of the run page.
type callView struct {
	Seq               int
	Cmd, Exit, Took   string
	Bytes, URL        string
	Failed, Truncated bool
	startMS, endMS    int64
}

// callsShown is how many sh calls of a job the run page lists: the
// first and the last half of them, and how many are left out between.
const callsShown = 200

// loadCapped is report.Load with at most callsShown sh calls a job, and
// the number of calls of each job.
func loadCapped(ctx context.Context, st *store.Store, id string) (report.Record, map[string]int, error) {
	var rec report.Record
	var err error
	if rec.Run, err = st.GetRun(ctx, id); err != nil {
		return rec, nil, err
	}
	if rec.Jobs, err = st.ListJobs(ctx, id); err != nil {
		return rec, nil, err
	}
	events, calls, err := st.ListShEventsCapped(ctx, id, callsShown)
	if err != nil {
		return rec, nil, err
	}
	rec.ShEvents = events
	if rec.Notifications, err = st.ListNotifications(ctx, id); err != nil {
		return rec, nil, err
	}
	return rec, calls, nil
}

// runPage shows a run: its header, job graph, time line, jobs, sh calls
// and notifications. While the run goes on, live.js reloads its content
// when the event stream says it changed.
func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), time.Now()
	f, err := s.findRun(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The progress first: rows written after it make the stream say
	// "update" at once, never a change the page missed.
	progress, err := f.src.store.RunProgress(ctx, f.run.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rec, calls, err := loadCapped(ctx, f.src.store, f.run.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pipe, err := f.src.store.ListPipeline(ctx, f.run.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	run := s.view(rec.Run, f.repo, now)
	data := struct {
		page
		Run           runView
		Jobs          []jobView
		Graph         template.HTML
		Timeline      template.HTML
		Notifications []report.NotificationJSON
	}{page: s.page("Run " + run.ShortID), Run: run}
	if !rec.Run.State.Ended() && !ownerGone(rec.Run) {
		// The stream says "update" once the rows differ from these.
		data.Live = s.url("/runs/"+url.PathEscape(rec.Run.ID)+"/events") + "?seen=" + strconv.FormatUint(fingerprint(progress), 16)
	}
	data.Jobs = s.jobViews(rec, calls, pipe, f.repo, now)
	data.Graph, data.Timeline = graphs(data.Jobs, rec.Run, now)
	data.Notifications = report.NewRecordJSON(rec, f.src.root).Notifications
	for i, n := range data.Notifications {
		data.Notifications[i].Target = clip(n.Target, maxShortText)
		if n.Error != nil {
			e := clip(*n.Error, maxLongText)
			data.Notifications[i].Error = &e
		}
	}
	s.render(w, r, "run", http.StatusOK, data)
}

// jobViews are the run's jobs: those its pipeline declared, in that
// order, then any recorded that it did not declare (a run recorded
// before pipeline_jobs existed has only those).
func (s *Server) jobViews(rec report.Record, calls map[string]int, pipe []store.PipelineJob, repo string, now time.Time) []jobView {
	rows := map[string]store.Job{}
	for _, j := range rec.Jobs {
		rows[j.JobID] = j
	}
	declared := map[string]bool{}
	var views []jobView
	add := func(id string, needs []string) {
		j, recorded := rows[id]
		v := jobView{ID: id, Recorded: recorded, Needs: needs,
			TrendsURL: s.url("/trends") + "?" + url.Values{"repo": {repo}, "job": {id}}.Encode()}
		switch {
		case recorded:
			v.State = string(j.State)
		case rec.Run.State.Ended():
			v.State = "not-run"
		default:
			v.State = "waiting"
		}
		if recorded {
			v.Took = took(j.StartedAtMS, j.FinishedAtMS, now)
			if j.ExitCode != nil {
				v.ExitCode = strconv.Itoa(*j.ExitCode)
			}
			v.Error = clip(j.Error, maxLongText)
			v.Outputs = prettyJSON(j.Outputs)
			v.LogURL = s.logURL(rec.Run.ID, id, 0, "")
			v.startMS, v.endMS = j.StartedAtMS, j.FinishedAtMS
		}
		shown := 0
		for _, e := range rec.ShEvents {
			if e.JobID != id {
				continue
			}
			if shown++; shown == callsShown/2+1 && calls[id] > callsShown {
				v.Hidden = calls[id] - callsShown
				v.HiddenAt = len(v.Calls)
			}
			c := callView{Seq: e.Seq, Cmd: clip(e.Cmd, maxShortText), Exit: shExit(e), Took: took(e.StartedAtMS, e.FinishedAtMS, now),
				Bytes:  fmt.Sprintf("%s out, %s err", bytesText(e.StdoutBytes), bytesText(e.StderrBytes)),
				URL:    s.logURL(rec.Run.ID, id, e.Seq, ""),
				Failed: !e.NoExit && e.ExitCode != 0, Truncated: e.LogTruncated,
				startMS: e.StartedAtMS, endMS: e.FinishedAtMS}
			v.Calls = append(v.Calls, c)
		}
		views = append(views, v)
	}
	for _, p := range pipe {
		declared[p.JobID] = true
		var needs []string
		for _, in := range p.Inputs {
			if slices.ContainsFunc(pipe, func(q store.PipelineJob) bool { return q.JobID == in }) {
				needs = append(needs, in)
			}
		}
		add(p.JobID, needs)
	}
	for _, j := range rec.Jobs {
		if !declared[j.JobID] {
			add(j.JobID, nil)
		}
	}
	return views
}

// graphs are the run's job graph and time line.
func graphs(jobs []jobView, run store.Run, now time.Time) (template.HTML, template.HTML) {
	if len(jobs) == 0 {
		return "", ""
	}
	var nodes []diagram.Node
	var bars []diagram.Bar
	for _, j := range jobs {
		label := j.Took
		nodes = append(nodes, diagram.Node{ID: j.ID, State: j.State, Label: label, Needs: j.Needs, Href: "#job-" + j.ID})
		if j.startMS == 0 {
			continue
		}
		b := diagram.Bar{Row: j.ID, Start: j.startMS, End: j.endMS, State: j.State, Label: j.Took, Href: "#job-" + j.ID}
		for _, c := range j.Calls {
			state := "complete"
			switch {
			case c.endMS == 0:
				state = "active"
			case c.Failed:
				state = "failed"
			}
			b.Sub = append(b.Sub, diagram.Bar{Row: j.ID, Start: c.startMS, End: c.endMS, State: state, Label: c.Cmd, Href: c.URL})
		}
		bars = append(bars, b)
	}
	nowMS := now.UnixMilli()
	if run.FinishedAtMS != 0 {
		nowMS = run.FinishedAtMS
	}
	var timeline template.HTML
	if len(bars) > 0 {
		timeline = diagram.Timeline(bars, nowMS)
	}
	return diagram.Graph(nodes), timeline
}

// shExit is an sh call's exit for people.
func shExit(e store.ShEvent) string {
	switch {
	case !e.NoExit:
		return strconv.Itoa(e.ExitCode)
	case e.FinishedAtMS == 0:
		return "running"
	}
	return "none"
}
