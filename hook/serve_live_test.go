package hook_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// liveTicks is how many lines the live run's job prints, one every
// 200 ms.
const liveTicks = 25

// testLive opens an active run's page and its sh call's log while the
// run goes, and checks that both follow it without a reload: log lines
// are appended as they are written (each carries markup, which must stay
// text), and the run page turns complete by itself.
func testLive(t *testing.T, browser context.Context) {
	r := newRepo(t)
	// The first sh call holds after tick 3 until the test has opened
	// its pages: a loaded machine may take seconds to open a tab.
	gate := filepath.Join(t.TempDir(), "gate")
	r.Pipeline(fmt.Sprintf(`local ci = require("quire.ci")
ci.job("tick", {"quire/push"}, function(q)
  q.sh([[for i in $(seq 1 %d); do echo "tick $i <img src=x onerror=window.__xss=1>"; if [ $i = 3 ]; then while [ ! -e '%s' ]; do sleep 0.05; done; fi; sleep 0.2; done]])
  q.log("between")
  q.sh([[for i in 1 2 3 4 5; do echo "tock $i"; sleep 0.2; done]])
end)
ci.job("after", {"tick"}, function(q) q.sh("echo done") end)
`, liveTicks, gate))
	r.Commit("tick")
	defer r.pushAsync()()
	openGate := func() { os.WriteFile(gate, nil, 0o644) }
	defer openGate() // runs before the push is waited for
	var run store.Run
	waitFor(t, "the run row", func() bool {
		runs := r.runsNow()
		if len(runs) > 0 {
			run = runs[0]
		}
		return len(runs) > 0
	})
	srv := startServe(t, r.Env, r.Work, "--git-dir", r.Bare, "serve", "--listen", "127.0.0.1:0")

	runPage := newTab(t, browser)
	runPage.open(srv.URL + "runs/" + run.ID)
	if state := strings.TrimSpace(runPage.text("h1 .state")); state != "pending" && state != "active" {
		t.Fatalf("the run page shows the run %s before the test could follow it", state)
	}
	if runPage.count("main[data-live]") != 1 {
		t.Fatal("the page of an active run has no main[data-live]: live.js would not follow it")
	}
	// A reload would lose this mark.
	runPage.eval("window.__mark = 1", new(int))
	runPage.waitJS("the sh call's row on the run page",
		`document.querySelector('#job-tick table.calls a[href*="sh=1"]') !== null`)
	logURL := runPage.str(`document.querySelector('#job-tick table.calls a[href*="sh=1"]').href`)

	// The whole job's log, opened during its first sh call.
	jobPage := newTab(t, browser)
	jobPage.open(strings.Replace(logURL, "&sh=1", "", 1))
	if jobPage.count("ol#log[data-follow]") != 1 {
		t.Fatalf("the log of a running job has no ol[data-follow]: nothing to follow")
	}

	logPage := newTab(t, browser)
	logPage.open(logURL)
	if logPage.count("ol#log[data-follow]") != 1 {
		t.Fatalf("the log of a running sh call has no ol[data-follow] (%d lines shown): nothing to follow", logPage.count("ol#log li"))
	}
	first := logPage.count("ol#log li")
	if first >= liveTicks {
		t.Fatalf("the log page shows all %d lines at once: nothing was followed", first)
	}
	logPage.eval("window.__mark = 1", new(int))
	openGate()
	logPage.waitJS("a line appended", fmt.Sprintf(`document.querySelectorAll("ol#log li").length > %d`, first))
	logPage.waitJS("the end of the log", `document.querySelector("ol#log").dataset.ended === "true"`)

	var ids []string
	logPage.eval(`Array.from(document.querySelectorAll("ol#log li"), li => li.id)`, &ids)
	var want []string
	for i := 1; i <= liveTicks; i++ {
		want = append(want, fmt.Sprintf("L%d", i))
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("log lines by id: got %v, want L1 to L%d once each", ids, liveTicks)
	}
	wantText(t, "the last line", logPage.text("#L25 .txt"), "tick 25 <img src=x onerror=window.__xss=1>")
	wantText(t, "a line's link", logPage.str(`document.querySelector("#L25 a.ln").getAttribute("href")`), "#L25")
	noXSS(t, logPage)

	runPage.waitJS("the run page saying complete", `document.querySelector("h1 .state").textContent === "complete"`)
	wantText(t, "the last job's state", runPage.text("#job-after h3 .state"), "complete")
	for name, p := range map[string]*tab{"run page": runPage, "log page": logPage} {
		var mark int
		p.eval("window.__mark || 0", &mark)
		if mark != 1 {
			t.Errorf("the %s was reloaded; it should have updated in place", name)
		}
	}
	noXSS(t, runPage)

	// Opened during the job's first sh call, its whole log must also
	// show the lines of the sh call that started after.
	t.Run("JobLogFollowsLaterShCalls", func(t *testing.T) {
		p := &tab{t: t, ctx: jobPage.ctx}
		p.waitJS("the end of the job's log", `document.querySelector("ol#log").dataset.ended === "true"`)
		var lines, missing []string
		p.eval(`Array.from(document.querySelectorAll("ol#log li"), li => li.querySelector(".src").textContent + " " + li.querySelector(".txt").textContent)`, &lines)
		for _, w := range []string{"sh-1 tick 1 <img src=x onerror=window.__xss=1>", "sh-1 tick 25 <img src=x onerror=window.__xss=1>", "log between", "sh-2 tock 1", "sh-2 tock 5"} {
			if !slices.Contains(lines, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			t.Errorf("the job's log, followed live, lacks %q; it shows:\n%s", missing, strings.Join(lines, "\n"))
		}
		noXSS(t, p)
	})
}
