package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quire-ci/quire-hook/pkg/buildinfo"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// pageNames are the templates under templates/, each a "content" block
// rendered inside layout.html.
var pageNames = []string{"repos", "runs", "run", "log", "trends", "error"}

// parseTemplates parses every page with the layout and the functions.
func (s *Server) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"url": s.url}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is what every page's template gets besides its own data.
type page struct {
	Title   string
	Live    string // the URL of the page's event stream, while it changes
	Version string
}

// render writes the page named name with data, which embeds page. It
// renders into a buffer first, so a template error is a clean 500 and
// never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, status int, data any) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// errorPage is the page of an error.
type errorPage struct {
	page
	Message string
}

// notFound answers 404 with msg.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	s.render(w, r, "error", http.StatusNotFound, errorPage{page: s.page("Not found"), Message: msg})
}

// fail answers the error of a lookup: 404 for what does not exist, 400
// for a malformed request, 500 for the rest.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad *badRequest
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.notFound(w, r, err.Error())
	case errors.As(err, &bad):
		s.render(w, r, "error", http.StatusBadRequest, errorPage{page: s.page("Bad request"), Message: err.Error()})
	default:
		s.render(w, r, "error", http.StatusInternalServerError, errorPage{page: s.page("Error"), Message: err.Error()})
	}
}

// badRequest is a request that names nothing valid.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// badf is a badRequest.
func badf(format string, args ...any) error { return &badRequest{msg: fmt.Sprintf(format, args...)} }

// page returns the common page data.
func (s *Server) page(title string) page {
	return page{Title: title, Version: buildinfo.Version()}
}

// utc formats ms since the epoch for a page; "" for none.
func utc(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is how long ago ms was, roughly: "3 min ago".
func ago(ms int64, now time.Time) string {
	if ms == 0 {
		return ""
	}
	d := now.Sub(time.UnixMilli(ms))
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

// took is a duration between two ms stamps for people, "" unless both
// are known; to 0 and from set means still going, measured to now.
func took(from, to int64, now time.Time) string {
	if from == 0 {
		return ""
	}
	if to == 0 {
		return duration(now.UnixMilli()-from) + " so far"
	}
	return duration(to - from)
}

// duration is ms for people: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min.
func duration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %02d s", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%d h %02d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// shortRef is a ref without refs/heads/ (a branch) or with tag: for a tag.
func shortRef(ref string) string {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return b
	}
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return "tag " + t
	}
	return ref
}

// short is the first n bytes of s.
func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// bytesText is a byte count for people.
func bytesText(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// prettyJSON is a job's outputs indented, or as stored if not JSON;
// cut to maxLongText.
func prettyJSON(s string) string {
	if s == "" || s == "null" {
		return ""
	}
	if len(s) > maxLongText {
		return clip(s, maxLongText)
	}
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return s
	}
	return clip(string(b), maxLongText)
}

// What a page shows of a text a pusher wrote is bounded, so that a
// commit subject or an error of megabytes makes no page of megabytes:
// a one-line text (subject, author, command) to maxShortText bytes, an
// error or outputs to maxLongText. The JSON API has them whole.
const (
	maxShortText = 1000
	maxLongText  = 64 << 10
)

// clip is s cut to at most n bytes at a character boundary, saying how
// much was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%s more)", bytesText(int64(len(s)-cut)))
}
