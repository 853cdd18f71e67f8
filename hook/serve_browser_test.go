package hook_test

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the run page's screenshot to docs/img/run-page.png")

// A realistic pipeline, for the pages and the README's screenshot: two
// jobs fed by the push, tests after the build that fail with coloured
// output, and a packaging step skipped because of them.
const realisticPipeline = `local ci = require("quire.ci")

ci.job("lint", {"quire/push"}, function(q)
  q.sh("sh ci/fmt.sh", {check = true})
  q.sh("sh ci/vet.sh", {check = true})
end)

ci.job("build", {"quire/push"}, function(q)
  q.sh("sh ci/build.sh", {check = true})
  return {binary = "bin/app", size = "7.2 MB"}
end)

ci.job("test", {"build"}, function(q)
  local r = q.sh("sh ci/test.sh")
  if r.exit ~= 0 then error("2 tests failed") end
end)

ci.job("package", {"lint", "test"}, function(q)
  q.sh("tar czf app.tgz bin")
end)
`

var realisticScripts = map[string]string{
	"ci/fmt.sh": `echo "gofmt -l ."; sleep 0.2; echo "0 files to format"`,
	"ci/vet.sh": `echo "go vet ./..."; sleep 0.3
printf '\033[32mok\033[0m   no problems in 42 packages\n'`,
	"ci/build.sh": `echo "go build -o bin/app ./cmd/app"; sleep 0.5
echo "built bin/app (7.2 MB)"`,
	// Line 3 is red; line 7 goes to stderr.
	"ci/test.sh": `echo "go test ./..."; sleep 0.3
printf '\033[32mok\033[0m  \texample.com/app/parse\t0.012s\n'
printf '\033[31m--- FAIL: TestRender (0.02s)\033[0m\n'
echo '    render_test.go:42: got "<b>", want "&lt;b&gt;"'
printf '\033[1;31mFAIL\033[0m\texample.com/app/render\t0.031s\n'
printf '\033[32mok\033[0m  \texample.com/app/store\t0.204s\n'
echo 'FAIL: 2 tests failed' >&2
exit 1`,
}

// TestServe_Browser drives `quire-hook serve` with headless Chromium:
// real pushes through the hook, a real server process, assertions on
// the DOM the browser built. One browser serves every subtest.
func TestServe_Browser(t *testing.T) {
	browser := startBrowser(t)

	r := newRepo(t)
	for path, text := range realisticScripts {
		r.Write(path, text)
	}
	r.Pipeline(realisticPipeline)
	r.Commit("render: escape attribute values\n\nThe template wrote them raw.")
	r.push()
	run, _, _ := r.lastRun()
	srv := startServe(t, r.Env, r.Work, "--git-dir", r.Bare, "serve", "--listen", "127.0.0.1:0")
	runURL := srv.URL + "runs/" + run.ID

	t.Run("Pages", func(t *testing.T) {
		p := newTab(t, browser)

		p.open(srv.URL)
		wantText(t, "repository", p.text("section.repo h2 a"), "repo.git")
		wantText(t, "ref", p.text("section.repo td.ref"), "main")
		wantText(t, "the ref's state", p.text("section.repo .state"), "failed")
		p.noViolations()

		p.open(srv.URL + "runs")
		if n := p.count("table.runs tbody tr"); n != 1 {
			t.Errorf("runs page lists %d runs, want 1", n)
		}
		wantText(t, "run link", p.text("table.runs tbody a"), run.ID[:13])
		wantText(t, "run state", p.text("table.runs tbody .state"), "failed")
		wantContains(t, p.text("table.runs tbody"), "render: escape attribute values")
		p.noViolations()
		// The filter form works under the CSP's form-action.
		p.do(chromedp.SetValue(chromedp.CSS("form.filters select[name=state]"), "complete"))
		p.do(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Submit(chromedp.CSS("form.filters")))(ctx, tg)
			return chromedp.Void{}, err
		})
		wantContains(t, p.str("location.search"), "state=complete")
		wantText(t, "runs that are complete", p.text("main p.empty"), "No runs match.")
		p.noViolations()

		p.open(runURL)
		wantText(t, "run state", p.text("h1 .state"), "failed")
		wantText(t, "run error", p.text("dl.facts + pre.error"), "job 'test' failed")
		jobs := []string{"build", "lint", "package", "test"}
		wantSet(t, "job names in the graph", p.texts("svg.graph text.id"), jobs)
		// package never started, so it has no bar.
		wantSet(t, "job names in the time line", p.texts("svg.timeline text.job"), []string{"build", "lint", "test"})
		for job, state := range map[string]string{"lint": "complete", "build": "complete", "test": "failed", "package": "skipped"} {
			wantText(t, job+"'s state", p.text("#job-"+job+" h3 .state"), state)
		}
		wantSet(t, "lint's sh commands", p.texts("#job-lint code.cmd"), []string{"sh ci/fmt.sh", "sh ci/vet.sh"})
		wantText(t, "test's failed exit", p.text("#job-test table.calls .st-failed"), "1")
		wantContains(t, p.text("#job-build pre.outputs"), `"binary": "bin/app"`)
		wantContains(t, p.text("#job-test pre.error"), "2 tests failed")
		p.noViolations()

		// The test job's sh call, through the link on the run page.
		logURL := p.str(`document.querySelector("#job-test table.calls a").href`)
		p.open(logURL + "#L3")
		if n := p.count("ol#log li"); n != 7 {
			t.Errorf("log shows %d lines, want 7", n)
		}
		wantText(t, "the line the URL points at", p.str(`(document.querySelector(":target") || {}).id || ""`), "L3")
		wantText(t, "line 3's link", p.str(`document.querySelector("#L3 a.ln").getAttribute("href")`), "#L3")
		// Each stream keeps its order; how the two interleave depends on
		// when the hook read each pipe.
		wantTexts(t, "stdout lines", p.texts("li.stdout .txt"), []string{
			"go test ./...",
			"ok  \texample.com/app/parse\t0.012s",
			"--- FAIL: TestRender (0.02s)",
			`    render_test.go:42: got "<b>", want "&lt;b&gt;"`,
			"FAIL\texample.com/app/render\t0.031s",
			"ok  \texample.com/app/store\t0.204s",
		})
		wantTexts(t, "stderr lines", p.texts("li.stderr .txt"), []string{"FAIL: 2 tests failed"})
		wantText(t, "the red span", p.text("li.stdout .fg-1"), "--- FAIL: TestRender (0.02s)")
		wantText(t, "the bold red span", p.text("li.stdout .fg-1.bold"), "FAIL")
		// The ANSI style sheet applies under the page's CSP: red is not
		// the text's own colour.
		red := p.str(`getComputedStyle(document.querySelector("li .fg-1")).color`)
		plain := p.str(`getComputedStyle(document.querySelector("#L1 .txt")).color`)
		if red == plain {
			t.Errorf("the red span has the plain text's colour %s: ansi.css not applied", red)
		}
		p.noViolations()

		p.open(srv.URL + "trends?repo=repo.git")
		for _, job := range jobs {
			if p.count("section#job-"+job+" figure svg") != 1 {
				t.Errorf("trends page has no chart for %s", job)
			}
		}
		wantContains(t, p.text("#job-test p.meta"), "1 failed")
		p.noViolations()
	})

	// Readable on a phone: no page is wider than a 375 px screen; wide
	// tables, diagrams and log lines scroll or wrap inside it.
	t.Run("Phone", func(t *testing.T) {
		p := newTab(t, browser)
		p.do(chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		for _, u := range []string{srv.URL, srv.URL + "runs", runURL, runURL + "/log?job=test&sh=1", srv.URL + "trends?repo=repo.git"} {
			p.open(u)
			var w struct{ Page, Screen int }
			p.eval(`({Page: document.documentElement.scrollWidth, Screen: window.innerWidth})`, &w)
			if w.Page > w.Screen {
				t.Errorf("%s is %d px wide on a %d px screen", u, w.Page, w.Screen)
			}
		}
	})

	// Behind a reverse proxy: every link, style sheet, script and live
	// stream is under the base path.
	t.Run("BasePath", func(t *testing.T) {
		ci := startServe(t, r.Env, r.Work, "--git-dir", r.Bare, "serve", "--listen", "127.0.0.1:0", "--base-path", "/ci")
		if !strings.HasSuffix(ci.URL, "/ci/") {
			t.Fatalf("serve says it listens on %s, want a URL ending in /ci/", ci.URL)
		}
		p := newTab(t, browser)
		p.open(ci.URL)
		p.do(chromedp.Click(chromedp.CSS("section.repo td a")), chromedp.WaitReady(chromedp.CSS("svg.graph")))
		wantText(t, "run page reached by its link", p.text("h1 code"), run.ID[:13])
		p.do(chromedp.Click(chromedp.CSS("#job-test table.calls a")), chromedp.WaitReady(chromedp.CSS("ol#log")))
		wantText(t, "log page reached by its link", p.text("li.stderr .txt"), "FAIL: 2 tests failed")
		var outside []string
		p.eval(`Array.from(document.querySelectorAll("[href], [src]"), e => e.getAttribute("href") || e.getAttribute("src"))
  .filter(u => u.startsWith("/") && !u.startsWith("/ci/"))`, &outside)
		if len(outside) > 0 {
			t.Errorf("links outside /ci/: %q", outside)
		}
		var sheets []int
		// WaitReady does not wait for the load event: the style sheets
		// may still be on their way.
		p.waitJS("the page loaded", `document.readyState === "complete"`)
		p.eval(`Array.from(document.styleSheets, s => s.cssRules.length)`, &sheets)
		if len(sheets) != 2 || slices.Contains(sheets, 0) {
			t.Errorf("style sheets loaded with these rule counts: %v, want style.css and ansi.css", sheets)
		}
		p.noViolations()
	})

	// package needs lint, two columns to its left: the edge must not
	// run under test, or the graph reads lint → test.
	t.Run("GraphEdgesAvoidNodes", func(t *testing.T) {
		p := newTab(t, browser)
		p.open(runURL)
		var bad []string
		p.eval(graphEdgesUnderNodes, &bad)
		for _, b := range bad {
			t.Errorf("job graph: %s, so it reads as an edge into that job", b)
		}
	})

	t.Run("Live", func(t *testing.T) { testLive(t, browser) })
	t.Run("XSS", func(t *testing.T) { testXSS(t, browser) })

	t.Run("Screenshot", func(t *testing.T) {
		p := newTab(t, browser)
		p.do(chromedp.EmulateViewport(1100, 800))
		p.open(runURL)
		p.waitJS("the fonts", `document.fonts.status === "loaded"`)
		img := p.screenshot()
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		if cfg.Width != 1100 || cfg.Height < 600 {
			t.Errorf("screenshot is %dx%d, want 1100 wide and the whole page high", cfg.Width, cfg.Height)
		}
		if !*updateScreenshot {
			return
		}
		if len(img) > 300<<10 {
			t.Errorf("screenshot is %d KiB, keep docs/img/run-page.png under 300 KiB", len(img)>>10)
		}
		out := filepath.Join("..", "docs", "img", "run-page.png")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d KiB, %dx%d)", out, len(img)>>10, cfg.Width, cfg.Height)
	})
}

// graphEdgesUnderNodes lists the edges of the job graph that pass
// through the box of a job other than their two ends, sampling each
// path every 2 px in screen coordinates.
const graphEdgesUnderNodes = `(() => {
  const nodes = Array.from(document.querySelectorAll("svg.graph g.node"), g => ({
    id: g.querySelector("text.id").textContent,
    r: g.querySelector("rect").getBoundingClientRect(),
  }));
  const bad = [];
  for (const e of document.querySelectorAll("svg.graph path.edge")) {
    const [from, to] = e.querySelector("title").textContent.split(" → ");
    const m = e.getScreenCTM(), len = e.getTotalLength();
    const hit = new Set();
    for (let d = 0; d <= len; d += 2) {
      const q = e.getPointAtLength(d), p = new DOMPoint(q.x, q.y).matrixTransform(m);
      for (const n of nodes) {
        if (n.id !== from && n.id !== to && p.x > n.r.left + 1 && p.x < n.r.right - 1 &&
            p.y > n.r.top + 1 && p.y < n.r.bottom - 1) hit.add(n.id);
      }
    }
    for (const id of hit) bad.push("the edge " + from + " → " + to + " runs under " + id);
  }
  return bad;
})()`

// texts is the textContent of every element matching sel.
func (p *tab) texts(sel string) []string {
	p.t.Helper()
	var out []string
	p.eval("Array.from(document.querySelectorAll("+jsString(sel)+"), e => e.textContent)", &out)
	return out
}

// noViolations fails the test if the page broke its Content-Security-
// Policy: the pages have no inline script or style, so nothing may have
// been blocked.
func (p *tab) noViolations() {
	p.t.Helper()
	var v []string
	p.eval("window.__csp || []", &v)
	if len(v) > 0 {
		p.t.Errorf("%s: Content-Security-Policy violations: %q", p.str("location.href"), v)
	}
}

// screenshot is a PNG of the whole page.
func (p *tab) screenshot() []byte {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserTimeout)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("browser: screenshot: %v", err)
	}
	return img
}

func wantText(t *testing.T, what, got, want string) {
	t.Helper()
	if strings.TrimSpace(got) != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func wantTexts(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func wantSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	got = slices.Clone(got)
	slices.Sort(got)
	got = slices.Compact(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}
