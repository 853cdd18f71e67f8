package hook_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browserTimeout bounds every step a test asks of the browser.
const browserTimeout = 20 * time.Second

// chromiumPath finds Debian's chromium (or a Chrome) on PATH.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startBrowser starts one headless Chromium for the test and its
// subtests, stopped when the test ends. Without one the test is skipped,
// or fails under CI=true, where .ci/run installs it.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		const msg = "chromium not found: apt-get install chromium"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 900),
	)
	// No UserDataDir: chromedp makes a temporary one and removes it, with
	// any process left using it, when the allocator ends. A browser that
	// dies while starting (seen once on a loaded machine) is tried again.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		if err = firstRun(ctx); err == nil {
			t.Cleanup(func() {
				cancel()
				cancelAlloc()
			})
			return ctx
		}
		cancel()
		cancelAlloc()
		t.Logf("start %s, attempt %d: %v", path, attempt, err)
	}
	t.Fatalf("start %s: %v", path, err)
	return nil
}

// firstRun makes the first call on a chromedp context, which starts its
// browser or opens its tab and binds it to ctx: that call must not get a
// context with a timeout, so it is waited for here instead.
func firstRun(ctx context.Context) error {
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		return err
	case <-time.After(60 * time.Second):
		return errors.New("no answer within 60 s")
	}
}

// tab is a browser tab of a test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// newTab opens a tab, closed when the test ends. Every page it loads
// records the Content-Security-Policy violations it sees in
// window.__csp, so a test can tell that the policy had to block
// something.
func newTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := firstRun(ctx); err != nil {
		t.Fatalf("open a browser tab: %v", err)
	}
	p := &tab{t: t, ctx: ctx}
	p.do(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});`,
		})
		return chromedp.Void{}, err
	})
	return p
}

// do runs actions in the tab, each within browserTimeout.
func (p *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	for _, a := range actions {
		ctx, cancel := context.WithTimeout(p.ctx, browserTimeout)
		err := chromedp.Do(ctx, a)
		cancel()
		if err != nil {
			p.t.Fatalf("browser: %v", err)
		}
	}
}

// open navigates to url and waits until its main element is there.
func (p *tab) open(url string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main#main")))
}

// eval evaluates a JavaScript expression in the page and decodes its
// JSON value into v.
func (p *tab) eval(js string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js))
	if err != nil {
		p.t.Fatalf("browser: evaluate %s: %v", js, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		p.t.Fatalf("browser: evaluate %s: decode %s: %v", js, raw, err)
	}
}

// str is the string value of a JavaScript expression.
func (p *tab) str(js string) string {
	p.t.Helper()
	var s string
	p.eval(js, &s)
	return s
}

// count is how many elements match a CSS selector.
func (p *tab) count(sel string) int {
	p.t.Helper()
	var n int
	p.eval("document.querySelectorAll("+jsString(sel)+").length", &n)
	return n
}

// text is the textContent of the first element matching sel, or "".
func (p *tab) text(sel string) string {
	p.t.Helper()
	return p.str("(document.querySelector(" + jsString(sel) + ") || {}).textContent || ''")
}

// waitJS polls a JavaScript expression until it is truthy, for
// browserTimeout at most; what names the wait in the failure.
func (p *tab) waitJS(what, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserTimeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(browserTimeout)))
	if err != nil {
		p.t.Fatalf("browser: waiting for %s (%s): %v", what, js, err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
