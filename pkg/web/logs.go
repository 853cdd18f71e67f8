package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/ansi"
	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/logpage"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// A log page shows at most logPageLines lines or logPageBytes bytes;
// "More lines" goes on from its cursor.
const (
	logPageLines = 1000
	logPageBytes = 1 << 20
)

// validJobID reports whether id looks like a job id (SPEC §4: 1 to 100
// of [A-Za-z0-9._-], and quire/mirror: one such segment, a slash and
// another): anything else names no job, and no path. Written out rather
// than a regexp, whose {1,100} would be compiled at every start of the
// hook.
func validJobID(id string) bool {
	head, tail, two := strings.Cut(id, "/")
	return validName(head, 1, 100, "._-") && (!two || validName(tail, 1, 100, "._-"))
}

// validName reports whether s has min to max bytes, each an ASCII letter
// or digit or one of extra.
func validName(s string, min, max int, extra string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// logTarget is a log a request names: a job's (seq 0) or one of its sh
// calls'.
type logTarget struct {
	found
	job   store.Job
	seq   int
	call  store.ShEvent
	files []string // the CRI files, job.log first for a job
	names []string // what each file is called on the page
	// done says every file is complete: the job (or call) or its run
	// has ended, or its hook has died.
	done bool
}

// logTarget reads the run id of the path and job= and sh= of the query,
// and checks each against the records: no path is made of anything
// that the database does not name.
func (s *Server) logTarget(ctx context.Context, r *http.Request) (logTarget, error) {
	f, err := s.findRun(ctx, r.PathValue("id"))
	if err != nil {
		return logTarget{}, err
	}
	t := logTarget{found: f}
	q := r.URL.Query()
	jobID := q.Get("job")
	if !validJobID(jobID) || strings.Contains(jobID, "..") {
		return t, fmt.Errorf("run %s has no job %q: %w", f.run.ID, short(jobID, 100), store.ErrNotFound)
	}
	jobs, err := f.src.store.ListJobs(ctx, f.run.ID)
	if err != nil {
		return t, err
	}
	ok := false
	for _, j := range jobs {
		if j.JobID == jobID {
			t.job, ok = j, true
		}
	}
	if !ok {
		return t, fmt.Errorf("run %s has no job %q: %w", f.run.ID, jobID, store.ErrNotFound)
	}
	events, err := f.src.store.ListShEvents(ctx, f.run.ID)
	if err != nil {
		return t, err
	}
	dir := datadir.Root(f.src.root).Run(f.run.ID).Job(jobID)
	if err := realDirs(f.src.root, string(dir)); err != nil {
		return t, err
	}
	ended := f.run.State.Ended() || ownerGone(f.run)
	if sh := q.Get("sh"); sh != "" {
		seq, err := strconv.Atoi(sh)
		if err != nil || seq < 1 {
			return t, fmt.Errorf("job %s has no sh call %q: %w", jobID, short(sh, 20), store.ErrNotFound)
		}
		for _, e := range events {
			if e.JobID == jobID && e.Seq == seq {
				t.call, t.seq = e, seq
			}
		}
		if t.seq == 0 {
			return t, fmt.Errorf("job %s has no sh call %d: %w", jobID, seq, store.ErrNotFound)
		}
		t.files, t.names = []string{dir.ShLog(seq)}, []string{""}
		t.done = ended || t.call.FinishedAtMS != 0
		return t, nil
	}
	t.files, t.names = []string{dir.JobLog()}, []string{"log"}
	for _, e := range events {
		if e.JobID == jobID {
			t.files = append(t.files, dir.ShLog(e.Seq))
			t.names = append(t.names, "sh-"+strconv.Itoa(e.Seq))
		}
	}
	t.done = ended || t.job.State.Ended()
	return t, nil
}

// logURL is the URL of a job's log (seq 0) or of one of its sh calls',
// from cursor from ("" for the start); kind is "" for the page,
// "/events", ".txt" or ".cri".
func (s *Server) logURL(runID, job string, seq int, from string, kind ...string) string {
	q := url.Values{"job": {job}}
	if seq > 0 {
		q.Set("sh", strconv.Itoa(seq))
	}
	if from != "" {
		q.Set("from", from)
	}
	k := ""
	if len(kind) > 0 {
		k = kind[0]
	}
	p := "/runs/" + url.PathEscape(runID) + "/log"
	switch k {
	case ".txt", ".cri":
		p += k
	case "/events":
		p += "/events"
	}
	return s.url(p) + "?" + q.Encode()
}

// lineView is a log line of a page.
type lineView struct {
	N     int64
	Class string
	Src   string
	HTML  template.HTML
}

// colours carries the SGR state of each file's streams from line to
// line, as a terminal would.
type colours map[[2]int]ansi.Style

// render turns l into its spans, carrying its stream's style on.
func (c colours) spans(l logpage.Line) []ansi.Span {
	k := [2]int{l.Source, 0}
	if l.Stream == "stderr" {
		k[1] = 1
	}
	spans, end := ansi.Parse(l.Content, c[k])
	c[k] = end
	return spans
}

// lineClass is the li class of l.
func lineClass(l logpage.Line) string {
	c := l.Stream
	if l.Partial {
		c += " partial"
	}
	return c
}

// logPage shows a page of a job's or an sh call's log; while it is being
// written and the page reaches its end, live.js follows it from there.
func (s *Server) logPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := s.logTarget(ctx, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, err := logpage.ParseCursor(r.URL.Query().Get("from"), len(t.files))
	if err != nil {
		s.fail(w, r, badf("from=%q is not a cursor from this server's pages: %v", short(r.URL.Query().Get("from"), 80), err))
		return
	}
	var p logpage.Page
	if t.done {
		p, err = logpage.Read(t.files, from, logPageLines, logPageBytes, t.opener())
	} else {
		p, err = s.readLive(t.files, from, t.opener())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}

	heading, state := "Job "+t.job.JobID, string(t.job.State)
	data := struct {
		page
		RunURL, ShortID, Repo, RefShort string
		Heading, State, StateClass, Cmd string
		RawURL, TextURL, JobURL         string
		First, Next, Follow             string
		Lines                           []lineView
	}{
		RunURL: s.url("/runs/" + url.PathEscape(t.run.ID)), ShortID: short(t.run.ID, 13),
		Repo: t.repo, RefShort: shortRef(t.run.Ref),
		RawURL:  s.logURL(t.run.ID, t.job.JobID, t.seq, "", ".cri"),
		TextURL: s.logURL(t.run.ID, t.job.JobID, t.seq, "", ".txt"),
	}
	class := state
	if t.seq > 0 {
		heading = fmt.Sprintf("%s · sh-%d", t.job.JobID, t.seq)
		state, class = "running", string(store.JobActive)
		if t.call.FinishedAtMS != 0 {
			state, class = "exit "+shExit(t.call), string(store.JobFailed)
			if !t.call.NoExit && t.call.ExitCode == 0 {
				class = string(store.JobComplete)
			}
		}
		data.Cmd = t.call.Cmd
		data.JobURL = s.logURL(t.run.ID, t.job.JobID, 0, "")
	}
	data.page, data.Heading, data.State, data.StateClass = s.page(heading), heading, state, class
	if from.Line > 0 {
		data.First = s.logURL(t.run.ID, t.job.JobID, t.seq, "")
	}
	c := colours{}
	for _, l := range p.Lines {
		v := lineView{N: l.N, Class: lineClass(l), HTML: ansi.HTML(c.spans(l))}
		if len(t.files) > 1 {
			v.Src = t.names[l.Source]
		}
		data.Lines = append(data.Lines, v)
	}
	caughtUp := len(p.Lines) < logPageLines && pageBytes(p) < logPageBytes
	switch {
	case t.done && !p.EOF, !t.done && !caughtUp:
		data.Next = s.logURL(t.run.ID, t.job.JobID, t.seq, p.Next.String())
	case !t.done:
		data.Follow = s.logURL(t.run.ID, t.job.JobID, t.seq, p.Next.String(), "/events")
	}
	s.render(w, r, "log", http.StatusOK, data)
}

// readLive reads a page of a log still being written: only its complete
// lines, so that following from the page's cursor loses nothing.
func (s *Server) readLive(files []string, from logpage.Cursor, opts ...logpage.Option) (logpage.Page, error) {
	tail, err := logpage.Follow(files, from, opts...)
	if err != nil {
		return logpage.Page{}, err
	}
	defer tail.Close()
	return tail.Next(logPageLines, logPageBytes)
}

// pageBytes is the content size of p's lines.
func pageBytes(p logpage.Page) int {
	n := 0
	for _, l := range p.Lines {
		n += len(l.Content)
	}
	return n
}

// logText is the whole log as plain text, streamed.
func (s *Server) logText(w http.ResponseWriter, r *http.Request) {
	t, err := s.logTarget(r.Context(), r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", `inline; filename="`+t.downloadName(".txt")+`"`)
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	// A long download moves its own deadline; the server's WriteTimeout
	// would cut it.
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w), stop: s.stop.Done()}
	if err := logpage.WriteText(dw, t.files, t.opener()); err != nil {
		if !dw.wrote {
			// Nothing sent yet (a file that is a link, say): an error
			// page, not a 200 with the error in it.
			h.Del("Content-Disposition")
			s.fail(w, r, err)
			return
		}
		fmt.Fprintf(dw, "\nquire-hook: %v\n", err)
	}
}

// logRaw is the CRI file itself: an sh call's, or a job's job.log.
func (s *Server) logRaw(w http.ResponseWriter, r *http.Request) {
	t, err := s.logTarget(r.Context(), r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := t.open(t.files[0])
	if errors.Is(err, fs.ErrNotExist) {
		s.notFound(w, r, "this log has not been written (yet)")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+t.downloadName(".log")+`"`)
	h.Set("Cache-Control", "no-store")
	http.ServeContent(&deadlineWriter{w: w, rc: http.NewResponseController(w), stop: s.stop.Done()}, r, "", fi.ModTime(), f)
}

// downloadName is a file name for the log: the run's short id, the job
// and the call, made of safe characters only.
func (t logTarget) downloadName(ext string) string {
	name := short(t.run.ID, 13) + "-" + strings.ReplaceAll(t.job.JobID, "/", "_")
	if t.seq > 0 {
		name += "-sh-" + strconv.Itoa(t.seq)
	}
	return name + ext
}

// open opens one of the target's log files below its data root, never
// through a symbolic link (crilog.OpenLogBelow): realDirs checked the
// directories, and this holds even if one is swapped since.
func (t logTarget) open(path string) (*os.File, error) {
	return crilog.OpenLogBelow(string(t.src.root), path)
}

// opener makes logpage open the files as open does.
func (t logTarget) opener() logpage.Option { return logpage.WithOpener(t.open) }

// realDirs refuses a log directory that is reached, below the data root,
// through a symbolic link or anything but a directory. crilog.OpenLog
// refuses a log file that is a link, but follows links in the path to
// it: a job that can write its run's directory could point jobs/<id> at
// another repository's logs.
func realDirs(root datadir.Root, dir string) error {
	rel, err := filepath.Rel(string(root), dir)
	if err != nil || !filepath.IsLocal(rel) {
		return fmt.Errorf("log directory %s is not under the data root %s", dir, root)
	}
	p := string(root)
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // no log written yet
		case err != nil:
			return fmt.Errorf("read log directory: %w", err)
		case !fi.IsDir():
			return fmt.Errorf("log directory %s is a symbolic link or not a directory, which quire-hook never makes; not reading it", p)
		}
	}
	return nil
}
