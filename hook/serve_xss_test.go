package hook_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Payloads that run script if a page ever writes them as markup; each
// sets window.__xss.
const (
	xssImg    = `<img src=x onerror="window.__xss=1">`
	xssScript = `<script>window.__xss=1</script>`
	xssSVG    = `"><svg onload=window.__xss=1>`
	xssAll    = xssImg + " " + xssScript + " " + xssSVG
	// xssRepo names the bare repository's directory.
	xssRepo = xssImg + ".git"
	// xssBranch is what git check-ref-format allows: no spaces, so the
	// svg's attribute follows a slash.
	xssBranch = `x'"><svg/onload=window.__xss=1><script>window.__xss=1</script>`
)

// xssLog is the output of the pushed job's first sh call: the payloads
// plain and inside ANSI colours, control bytes, invalid UTF-8, a
// malformed escape sequence, and a line long enough to be written as
// several CRI pieces.
var xssLog = strings.Join([]string{
	xssAll,
	"\x1b[31m" + xssAll + "\x1b[0m",
	"ctl \x01\x02\x07\x08\x7f\x1b end",
	"bad \xff\xfe\xc3\x28 utf8",
	"\x1b[38;5;<script>m" + xssScript,
	strings.Repeat(xssImg, 1200), // 42 KB: three CRI pieces
	"end of payload",
}, "\n") + "\n"

const xssPipeline = `local ci = require("quire.ci")
local P = [==[` + xssAll + `]==]

ci.job("xss", {"quire/push"}, function(q)
  q.sh("cat payload.txt")
  q.sh("echo '" .. P .. "' >&2")
  q.log(P)
  local push = q.jobs("quire/push")
  q.log("branch " .. push.branch)
  return {payload = P, branch = push.branch, [P] = "a key"}
end)

ci.job("fails", {"xss"}, function(q) error(P) end)
`

// testXSS pushes the payloads in a log line, a branch name, a commit
// message, a job's output, its error, an sh command and the repository's
// directory name, visits every page that shows them, and checks that
// none ran and each shows as text.
func testXSS(t *testing.T, browser context.Context) {
	r := newRepo(t)
	top := t.TempDir()
	r.Bare = filepath.Join(top, xssRepo)
	r.Git(top, "init", "--quiet", "--bare", "--initial-branch=main", r.Bare)
	if out, code := r.quire("", "--git-dir", r.Bare, "install"); code != 0 {
		t.Fatalf("install: exit %d: %s", code, out)
	}
	t.Cleanup(func() { waitWorkers(t, r.Bare) })
	r.Git(r.Work, "remote", "set-url", "origin", r.Bare)
	r.Pipeline(xssPipeline)
	r.Write("payload.txt", xssLog)
	r.Commit(xssAll + "\n\n" + xssBranch)
	r.Git(r.Work, "branch", xssBranch)
	r.push("origin", "refs/heads/"+xssBranch)
	run, _, _ := r.lastRun()
	if run.Ref != "refs/heads/"+xssBranch {
		t.Fatalf("the run's ref is %q, want the payload branch", run.Ref)
	}
	srv := startServe(t, r.Env, r.Work, "serve", "--repos", top, "--listen", "127.0.0.1:0")
	p := newTab(t, browser)
	runURL := srv.URL + "runs/" + run.ID
	logURL := func(q url.Values) string { return runURL + "/log?" + q.Encode() }

	pages := []struct {
		path string
		want []string // texts the page's main element must show
	}{
		{srv.URL, []string{xssRepo, xssBranch, xssAll}},
		{srv.URL + "runs", []string{xssRepo, xssBranch, xssAll}},
		{srv.URL + "runs?" + url.Values{"repo": {xssRepo}, "ref": {run.Ref}}.Encode(), []string{xssRepo, xssBranch, xssAll}},
		{runURL, []string{xssRepo, run.Ref, xssAll, "echo '" + xssAll + "' >&2"}},
		{logURL(url.Values{"job": {"xss"}}), []string{xssRepo, xssBranch, xssAll, "branch " + xssBranch}},
		{logURL(url.Values{"job": {"xss"}, "sh": {"1"}}), []string{xssAll, "end of payload"}},
		{logURL(url.Values{"job": {"xss"}, "sh": {"2"}}), []string{xssAll}},
		{logURL(url.Values{"job": {"fails"}}), []string{xssAll}},
		{srv.URL + "trends?" + url.Values{"repo": {xssRepo}}.Encode(), []string{xssRepo, "xss", "fails"}},
		// Pages that quote a hostile query back.
		{srv.URL + "trends?" + url.Values{"repo": {xssAll}}.Encode(), []string{"<img src=x onerror=", xssScript}},
		{srv.URL + "runs?" + url.Values{"state": {xssSVG}}.Encode(), []string{xssSVG}},
		{srv.URL + "runs/" + url.PathEscape(xssImg), nil},
		{logURL(url.Values{"job": {xssScript}}), []string{xssScript}},
	}
	for _, pg := range pages {
		p.open(pg.path)
		main := p.text("main")
		for _, w := range pg.want {
			if !strings.Contains(main, w) {
				t.Errorf("%s does not show %q as text:\n%s", pg.path, w, main)
			}
		}
		noXSS(t, p)
	}

	// The sh call's log, line by line.
	p.open(logURL(url.Values{"job": {"xss"}, "sh": {"1"}}))
	if n := p.count("ol#log li"); n != 7 {
		t.Errorf("the payload log shows %d lines, want 7", n)
	}
	wantText(t, "the payload in red", p.text("#L2 .fg-1"), xssAll)
	if n := len(p.text("#L6 .txt")); n != 1200*len(xssImg) {
		t.Errorf("the long line shows %d bytes, want %d (its CRI pieces joined)", n, 1200*len(xssImg))
	}
	wantText(t, "the line after the bad bytes", p.text("#L7 .txt"), "end of payload")
	noXSS(t, p)

	// The badge is an SVG document of its own.
	badge := srv.URL + "badge/" + url.PathEscape(xssRepo) + "/"
	for i, seg := range strings.Split(xssBranch, "/") {
		if i > 0 {
			badge += "/"
		}
		badge += url.PathEscape(seg)
	}
	p.do(chromedp.Navigate(badge+".svg"), chromedp.WaitReady(chromedp.CSS("svg")))
	wantContains(t, p.text("svg"), "failing")
	noXSS(t, p)
}

// noXSS fails the test if the page ran or holds any of the payloads as
// markup: window.__xss set, an element with an event handler attribute,
// a script other than live.js, an image other than a badge, or anything
// the Content-Security-Policy had to block.
func noXSS(t *testing.T, p *tab) {
	t.Helper()
	var bad []string
	p.eval(`(() => {
  const bad = [];
  if (window.__xss !== undefined) bad.push("window.__xss = " + window.__xss);
  for (const e of document.querySelectorAll("[onerror], [onload]")) bad.push("an element with a handler: " + e.outerHTML.slice(0, 200));
  for (const s of document.querySelectorAll("script")) {
    if (!(s.getAttribute("src") || "").endsWith("/static/live.js")) bad.push("a script: " + s.outerHTML.slice(0, 200));
  }
  for (const i of document.querySelectorAll("img")) {
    if (!new URL(i.src, location.href).pathname.includes("/badge/")) bad.push("an image: " + i.outerHTML.slice(0, 200));
  }
  for (const v of (window.__csp || [])) bad.push("blocked by the CSP: " + v);
  return bad;
})()`, &bad)
	for _, b := range bad {
		t.Errorf("%s: %s", p.str("location.href"), b)
	}
}
