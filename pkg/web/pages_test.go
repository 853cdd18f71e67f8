package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/web"
)

// TestPages_Hostile renders every page over the fixture, whose pushed
// text is markup, and checks the headers, the text and that the markup
// came out as text only.
func TestPages_Hostile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	log := "/runs/" + idComplete + "/log?job=build"
	tests := []struct {
		path string
		want []string // in the page's text
	}{
		{"/", []string{"team1/tools.git", "team2/tools.git", "main", `x"><svg/onload=alert(1)>`, "<script>alert(1)</script>"}},
		{"/runs", []string{"Runs", "<script>alert(1)</script>", "team2/tools.git"}},
		{"/runs?repo=team1/tools.git&ref=main", []string{"Runs"}},
		{"/runs/" + idComplete, []string{"build", "test", "deploy", "not-run", "\"version\": \"1.2.3\"",
			"webhook \"'><img src=x onerror=alert(1)>", "echo \"'><img"}},
		{"/runs/" + idFailed, []string{`refs/heads/x"><svg/onload=alert(1)>`, "<script>alert(1)</script>", hostileJob, "after"}},
		{"/trends?repo=team1/tools.git&job=" + url.QueryEscape(hostileJob), []string{hostileJob}},
		{"/runs/" + idActive, []string{"build", "waiting"}},
		{"/runs/" + idPending, []string{"pending"}},
		{"/runs/" + idSuperseded, []string{"superseded"}},
		{"/runs/" + idOld, []string{"lint"}},
		{log, []string{"job says \"'><img src=x onerror=alert(1)><script>alert(1)</script>", "sh-1", "line 900"}},
		{log + "&sh=1", []string{"red", "an error line", "plain \"'><img"}},
		{"/runs/" + idComplete + "/log?job=test", []string{"<script>alert(1)</script>"}},
		{"/trends?repo=team1/tools.git", []string{"build", "test", "lint"}},
		{"/trends?repo=team1/tools.git&job=build", []string{"build"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := f.get(t, tt.path, http.StatusOK)
			checkHeaders(t, r, "text/html; charset=utf-8")
			text := checkHTML(t, "", r.body)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the page's text lacks %q", w)
				}
			}
		})
	}
}

// checkHeaders checks what every response carries.
func checkHeaders(t *testing.T, r response, contentType string) {
	t.Helper()
	if got := r.header.Get("Content-Type"); got != contentType {
		t.Errorf("Content-Type %q, want %q", got, contentType)
	}
	if got := r.header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") && !strings.Contains(got, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q lacks default-src 'self'", got)
	}
	if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
}

// TestPages_NotFound asks for what does not exist or escapes the data
// root.
func TestPages_NotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	run := "/runs/" + idComplete
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/nope", 404},
		{"/runs/zz", 404},
		{"/runs/" + runID(99), 404},
		{"/runs/..%2f..%2fetc%2fpasswd", 404},
		{"/runs/..%2f..%2fetc/passwd", 404},
		{"/runs/%3Cscript%3E", 404},
		{run + "/log?job=../../etc&sh=1", 404},
		{run + "/log?job=..", 404},
		{run + "/log?job=build/../../x", 404},
		{run + "/log?job=a/b", 404},
		{run + "/log?job=/etc/passwd", 404},
		{run + "/log?job=nope", 404},
		{run + "/log?job=", 404},
		{run + "/log?job=build&sh=99", 404},
		{run + "/log?job=build&sh=-1", 404},
		{run + "/log?job=build&sh=0", 404},
		{run + "/log?job=build&sh=1e9", 404},
		{run + "/log?job=build&sh=99999999999999999999", 404},
		{run + "/log.cri?job=../../etc&sh=1", 404},
		{run + "/log.txt?job=build&sh=7", 404},
		{"/static/../web.go", 404},
		{"/static/..%2fweb.go", 404},
		{"/static/", 404},
		{"/static/nope.js", 404},
		{"/badge/nope/main.svg", 404},
		{"/badge/team1/tools.git/main", 404},
		{"/trends?repo=nope", 404},
		{"/trends", 404},
		{"/runs?repo=nope", 404},
		{"/runs?before=zz", 400},
		{"/runs?before=1.%3Cscript%3E", 400},
		{"/runs?before=-1.abcd", 400},
		{"/runs?state=bogus", 400},
		{"/runs?limit=0", 400},
		{"/runs?limit=501", 400},
		{"/runs?limit=x", 400},
		{run + "/log?job=build&from=x", 400},
		{run + "/log?job=build&from=1.2.3.4.5.6", 400},
		{"/api/runs?state=bogus", 400},
		{"/api/runs/" + runID(99), 404},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := f.get(t, tt.path, tt.want)
			if strings.Contains(r.body, "root:") || strings.Contains(r.body, "package web") {
				t.Errorf("the body holds a file it must not serve")
			}
			if strings.Contains(r.body, "<script>alert") {
				t.Errorf("the error page echoes markup unescaped")
			}
		})
	}
}

// TestPages_Methods: the server is read-only.
func TestPages_Methods(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		for _, p := range []string{"/", "/runs", "/api/runs", "/runs/" + idComplete} {
			r := f.do(t, m, p)
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d Allow %q, want 405 GET, HEAD", m, p, r.status, r.header.Get("Allow"))
			}
		}
	}
	for _, p := range []string{"/", "/runs", "/api/runs", "/runs/" + idComplete, "/static/style.css",
		"/runs/" + idComplete + "/log.txt?job=build", "/runs/" + idComplete + "/log.cri?job=build&sh=1",
		"/badge/team1/tools.git/main.svg"} {
		get, head := f.get(t, p, 200), f.do(t, "HEAD", p)
		if head.status != 200 || head.body != "" || head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d, %d body bytes, Content-Type %q; want 200, none, %q", p, head.status,
				len(head.body), head.header.Get("Content-Type"), get.header.Get("Content-Type"))
		}
	}
}

// TestPages_BasePath serves under /ci.
func TestPages_BasePath(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{BasePath: "/ci/"})
	for _, p := range []string{"/ci/", "/ci/runs", "/ci/runs/" + idComplete, "/ci/runs/" + idComplete + "/log?job=build",
		"/ci/trends?repo=team1/tools.git"} {
		r := f.get(t, p, 200)
		checkHTML(t, "/ci", r.body)
	}
	f.get(t, "/ci/static/style.css", 200)
	f.get(t, "/", 404)
	f.get(t, "/runs", 404)
	f.get(t, "/cix", 404)
	f.hs.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := f.get(t, "/ci", http.StatusFound)
	if loc := r.header.Get("Location"); loc != "/ci/" {
		t.Errorf("/ci redirects to %q, want /ci/", loc)
	}
	r = f.get(t, "/ci?repo=a%2Fb", http.StatusFound)
	if loc := r.header.Get("Location"); loc != "/ci/?repo=a%2Fb" {
		t.Errorf("/ci?repo=a%%2Fb redirects to %q, want /ci/?repo=a%%2Fb", loc)
	}
	for _, bad := range []string{"ci", "/ci/../x", "//ci", "/c i/./"} {
		if _, err := web.New(web.Options{Sources: &web.Sources{}, BasePath: bad}); err == nil {
			t.Errorf("New accepted base path %q", bad)
		}
	}
}

// TestPages_RunsPaging pages the runs of two data roots two at a time.
func TestPages_RunsPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	all := []string{idActive, idTeam2, idPending, idOld, idSuperseded, idFailed, idComplete}
	var got []string
	next := "/runs?limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := f.get(t, next, 200)
		ids := runLinks(r.body)
		if len(ids) > 2 {
			t.Errorf("%s: %d runs, want at most limit=2", next, len(ids))
		}
		got = append(got, ids...)
		next = relNext(r.body)
	}
	if strings.Join(got, " ") != strings.Join(all, " ") {
		t.Errorf("paged runs:\n%v\nwant\n%v", got, all)
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"repo=team1/tools.git&ref=main", []string{idActive, idComplete}},
		{"repo=team1/tools.git&ref=refs/heads/main", []string{idActive, idComplete}},
		{"repo=team2/tools.git", []string{idTeam2}},
		{"state=failed", []string{idTeam2, idOld, idFailed}},
		{"ref=dev&state=pending", []string{idPending}},
		{"ref=" + url.QueryEscape(hostileRef), []string{idFailed}},
	} {
		r := f.get(t, "/runs?"+tt.query, 200)
		if got := runLinks(r.body); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("/runs?%s: %v, want %v", tt.query, got, tt.want)
		}
	}
}

// runLinks are the run ids a runs page links to, in order.
func runLinks(body string) []string {
	var ids []string
	for _, part := range strings.Split(body, `href="/runs/`)[1:] {
		id, _, _ := strings.Cut(part, `"`)
		if !strings.Contains(id, "/") && !strings.Contains(id, "?") {
			ids = append(ids, id)
		}
	}
	return ids
}

// relNext is the page's rel="next" link, unescaped, or "".
func relNext(body string) string {
	i := strings.Index(body, `" rel="next"`)
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(body[:i], `href="`)
	return strings.ReplaceAll(body[j+len(`href="`):i], "&amp;", "&")
}
