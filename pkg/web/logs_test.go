package web_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// logLine is a line of a log page.
type logLine struct {
	id, class, src, text string
	spans                []string // the classes of the text's spans
}

// parseLog returns the lines of a log page and its "More lines" link.
func parseLog(t *testing.T, body string) ([]logLine, string) {
	t.Helper()
	checkHTML(t, "", body)
	doc, err := html.Parse(strings.NewReader(body))
	must(t, err)
	var lines []logLine
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "li" && strings.HasPrefix(attr(n, "id"), "L") {
			l := logLine{id: attr(n, "id"), class: attr(n, "class")}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				switch attr(c, "class") {
				case "src":
					l.src = textOf(c)
				case "txt":
					l.text = textOf(c)
					for s := c.FirstChild; s != nil; s = s.NextSibling {
						if s.Type == html.ElementNode {
							l.spans = append(l.spans, attr(s, "class"))
						}
					}
				}
			}
			lines = append(lines, l)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return lines, relNext(body)
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// TestLogs_Paging reads a 2,500-line log page by page.
func TestLogs_Paging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	next := "/runs/" + idComplete + "/log?job=build&sh=2"
	var got []string
	var firsts []string
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		lines, more := parseLog(t, f.get(t, next, 200).body)
		firsts = append(firsts, lines[0].id)
		for _, l := range lines {
			got = append(got, l.text)
			if want := "L" + strings.TrimPrefix(l.text, "line "); l.id != want {
				t.Fatalf("line %q has id %s, want %s", l.text, l.id, want)
			}
		}
		next = more
	}
	if want := "L1 L1001 L2001"; strings.Join(firsts, " ") != want {
		t.Errorf("pages start at %v, want %s", firsts, want)
	}
	if len(got) != logLines {
		t.Fatalf("%d lines, want %d", len(got), logLines)
	}
	for i, l := range got {
		if want := fmt.Sprintf("line %d", i+1); l != want {
			t.Fatalf("line %d is %q, want %q", i+1, l, want)
		}
	}
}

// TestLogs_Lines checks the merged job log, streams, colours and a long
// line.
func TestLogs_Lines(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	lines, _ := parseLog(t, f.get(t, "/runs/"+idComplete+"/log?job=build", 200).body)
	srcs := map[string]int{}
	for _, l := range lines {
		srcs[l.src]++
	}
	if srcs["log"] != 2 || srcs["sh-1"] < 3 || srcs["sh-2"] < 900 || srcs[""] != 0 {
		t.Errorf("merged log sources %v, want log 2, sh-1 >= 3, sh-2 the rest", srcs)
	}
	lines, next := parseLog(t, f.get(t, "/runs/"+idComplete+"/log?job=build&sh=1", 200).body)
	if next != "" {
		t.Errorf("a short log has a next page: %s", next)
	}
	var red, stderr bool
	var long strings.Builder
	longLines := 0
	for _, l := range lines {
		if l.src != "" {
			t.Errorf("one call's log marks a source: %+v", l)
		}
		if strings.HasPrefix(l.text, "red plain") && len(l.spans) > 0 && strings.Contains(l.spans[0], "fg") {
			red = true
		}
		if l.text == "an error line" && strings.Contains(l.class, "stderr") {
			stderr = true
		}
		if strings.HasPrefix(l.text, "x") {
			long.WriteString(l.text)
			longLines++
		}
		if strings.Contains(l.text, "\x1b") {
			t.Errorf("line %s holds a raw escape: %q", l.id, l.text)
		}
	}
	if !red {
		t.Errorf("no line starts with a coloured span: %+v", lines)
	}
	if !stderr {
		t.Errorf("the stderr line has no class stderr: %+v", lines)
	}
	if long.String() != strings.Repeat("x", 40<<10) || longLines != 1 {
		t.Errorf("the long line came back as %d bytes in %d lines, want %d in one (its P records joined)", long.Len(), longLines, 40<<10)
	}
}

// TestLogs_Downloads: .cri is the file, .txt the decoded lines.
func TestLogs_Downloads(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	path := f.root1.Run(idComplete).Job("build").ShLog(2)
	file, err := os.ReadFile(path)
	must(t, err)
	u := "/runs/" + idComplete + "/log.cri?job=build&sh=2"
	r := f.get(t, u, 200)
	if r.body != string(file) {
		t.Errorf("raw log differs from the file (%d bytes, want %d)", len(r.body), len(file))
	}
	checkHeaders(t, r, "text/plain; charset=utf-8")
	if cd := r.header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="[0-9a-f-]+-build-sh-2\.log"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	part := f.do(t, "GET", u, "Range", "bytes=10-99")
	if part.status != http.StatusPartialContent || part.body != string(file[10:100]) {
		t.Errorf("Range: %d %q, want 206 %q", part.status, part.body, file[10:100])
	}
	txt := f.get(t, "/runs/"+idComplete+"/log.txt?job=build&sh=2", 200)
	var want strings.Builder
	for i := 1; i <= logLines; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if txt.body != want.String() {
		t.Errorf(".txt is not the decoded lines: %q...", short(txt.body))
	}
	job := f.get(t, "/runs/"+idComplete+"/log.txt?job=build", 200).body
	if !strings.Contains(job, "job says "+hostile+"\n") || !strings.Contains(job, "line 2500\n") {
		t.Errorf("the job's .txt lacks its lines")
	}
}

// TestLogs_NotAFile: a log that is a symbolic link or a FIFO is never
// read, whatever the view.
func TestLogs_NotAFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	ctx := t.Context()
	secret := filepath.Join(f.dir, "secret")
	must(t, os.WriteFile(secret, []byte("2026-01-01T00:00:00.000000000Z stdout F TOPSECRET\n"), 0o644))
	must(t, f.st1.StartJob(ctx, idOld, "evil", f.t0+3300))
	for seq := 1; seq <= 2; seq++ {
		must(t, f.st1.AddShEvent(ctx, store.ShEvent{RunID: idOld, JobID: "evil", Seq: seq,
			StartedAtMS: f.t0 + 3400, FinishedAtMS: f.t0 + 3500, Cmd: "cat"}))
	}
	dir := f.root1.Run(idOld).Job("evil")
	must(t, os.MkdirAll(string(dir), 0o755))
	must(t, os.Symlink(secret, dir.JobLog()))
	must(t, os.Symlink(secret, dir.ShLog(1)))
	must(t, syscall.Mkfifo(dir.ShLog(2), 0o644))
	// A job directory that is a link to another directory of logs (some
	// other repository's, say).
	other := filepath.Join(f.dir, "other")
	must(t, os.MkdirAll(other, 0o755))
	writeLog(t, filepath.Join(other, "sh-1.log"), func(w *crilog.Writer) { must(t, w.Line("stdout", []byte("TOPSECRET"))) })
	writeLog(t, filepath.Join(other, "job.log"), func(w *crilog.Writer) { must(t, w.Line("stdout", []byte("TOPSECRET"))) })
	must(t, f.st1.StartJob(ctx, idOld, "linked", f.t0+3300))
	must(t, f.st1.AddShEvent(ctx, store.ShEvent{RunID: idOld, JobID: "linked", Seq: 1,
		StartedAtMS: f.t0 + 3400, FinishedAtMS: f.t0 + 3500, Cmd: "cat"}))
	must(t, os.Symlink(other, string(f.root1.Run(idOld).Job("linked"))))
	base := "/runs/" + idOld
	for _, u := range []string{
		base + "/log?job=evil", base + "/log?job=evil&sh=1", base + "/log?job=evil&sh=2",
		base + "/log.txt?job=evil", base + "/log.txt?job=evil&sh=1", base + "/log.txt?job=evil&sh=2",
		base + "/log.cri?job=evil", base + "/log.cri?job=evil&sh=1", base + "/log.cri?job=evil&sh=2",
		base + "/log/events?job=evil&sh=1", base + "/log/events?job=evil&sh=2",
		base + "/log?job=linked", base + "/log?job=linked&sh=1", base + "/log.txt?job=linked",
		base + "/log.cri?job=linked&sh=1", base + "/log/events?job=linked",
	} {
		done := make(chan response, 1)
		go func() { done <- f.do(t, "GET", u) }()
		select {
		case r := <-done:
			if strings.Contains(r.body, "TOPSECRET") {
				t.Errorf("GET %s served the file behind the link", u)
			}
			if r.status < 400 && !strings.Contains(u, "/events") {
				t.Errorf("GET %s: status %d, want an error", u, r.status)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("GET %s hangs", u)
		}
	}
}
