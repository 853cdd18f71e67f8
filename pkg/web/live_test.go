package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// event is a Server-Sent Event.
type event struct{ id, name, data string }

// sse is an open event stream.
type sse struct {
	status int
	res    *http.Response
	events chan event
	cancel context.CancelFunc
}

// openSSE GETs path and reads its events in the background.
func (f *fixture) openSSE(t *testing.T, path string, header ...string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "GET", f.hs.URL+path, nil)
	must(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.hs.Client().Do(req)
	must(t, err)
	s := &sse{status: res.StatusCode, res: res, events: make(chan event, 1000), cancel: cancel}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	go func() {
		defer close(s.events)
		br := bufio.NewReader(res.Body)
		var e event
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if e.name != "" {
					s.events <- e
				}
				e = event{}
			case strings.HasPrefix(line, "id: "):
				e.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data += line[6:]
			}
		}
	}()
	return s
}

// next is the next event, or name "closed" when the stream ended.
func (s *sse) next(t *testing.T) event {
	t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			return event{name: "closed"}
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event for 10 s")
	}
	return event{}
}

// lineTexts decodes a "lines" event into "n:text".
func lineTexts(t *testing.T, e event) []string {
	t.Helper()
	var lines []struct {
		N     int64 `json:"n"`
		Spans []struct {
			T string `json:"t"`
		} `json:"spans"`
	}
	must(t, json.Unmarshal([]byte(e.data), &lines))
	var out []string
	for _, l := range lines {
		var b strings.Builder
		for _, s := range l.Spans {
			b.WriteString(s.T)
		}
		out = append(out, fmt.Sprintf("%d:%s", l.N, b.String()))
	}
	return out
}

// liveCall starts sh call 1 of job build of the active run and returns
// its log writer and a function that ends the call.
func (f *fixture) liveCall(t *testing.T) (*crilog.Writer, func()) {
	t.Helper()
	ctx := t.Context()
	e := store.ShEvent{RunID: idActive, JobID: "build", Seq: 1, StartedAtMS: time.Now().UnixMilli() + 5, Cmd: "make"}
	must(t, f.st1.StartShEvent(ctx, e))
	path := f.root1.Run(idActive).Job("build").ShLog(1)
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	w, err := crilog.Create(path)
	must(t, err)
	return w, func() {
		must(t, w.Close())
		e.FinishedAtMS, e.ExitCode = time.Now().UnixMilli()+10, 0
		must(t, f.st1.FinishShEvent(context.Background(), e))
	}
}

// TestLive_Log follows a log while it is written, then resumes with
// Last-Event-ID.
func TestLive_Log(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	w, finish := f.liveCall(t)
	const n = 300
	go func() {
		out := w.Stream("stdout")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(out, "line %d <b>\n", i)
			if i%50 == 0 {
				time.Sleep(15 * time.Millisecond)
			}
		}
		finish()
	}()
	u := "/runs/" + idActive + "/log/events?job=build&sh=1"
	s := f.openSSE(t, u)
	if s.status != 200 || s.res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", s.status, s.res.Header.Get("Content-Type"))
	}
	var got []string
	var ids []string
	var sizes []int
	for e := s.next(t); e.name != "end"; e = s.next(t) {
		if e.name != "lines" {
			t.Fatalf("event %q %q before end", e.name, e.data)
		}
		lines := lineTexts(t, e)
		got = append(got, lines...)
		ids, sizes = append(ids, e.id), append(sizes, len(lines))
	}
	checkSeq(t, got, 1, n)

	// Resume after the first event: the rest, once.
	r := f.openSSE(t, u, "Last-Event-ID", ids[0])
	var rest []string
	for e := r.next(t); e.name != "end"; e = r.next(t) {
		rest = append(rest, lineTexts(t, e)...)
	}
	checkSeq(t, rest, sizes[0]+1, n)
	// A Last-Event-ID that is no cursor is refused.
	if bad := f.do(t, "GET", u, "Last-Event-ID", "x<script>"); bad.status != http.StatusBadRequest {
		t.Errorf("a bad Last-Event-ID: %d, want 400", bad.status)
	}
}

// checkSeq checks that got is "i:line i <b>" for i from..to.
func checkSeq(t *testing.T, got []string, from, to int) {
	t.Helper()
	if len(got) != to-from+1 {
		t.Fatalf("%d lines, want %d (from %d): %v", len(got), to-from+1, from, got)
	}
	for i, l := range got {
		if want := fmt.Sprintf("%d:line %d <b>", from+i, from+i); l != want {
			t.Fatalf("line %d is %q, want %q", i, l, want)
		}
	}
}

// TestLive_Run: the run's stream says update when a row changes and end
// when the run ends.
func TestLive_Run(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	page := f.get(t, "/runs/"+idActive, 200).body
	i := strings.Index(page, `data-live="`)
	if i < 0 {
		t.Fatal("the active run's page has no data-live")
	}
	live, _, _ := strings.Cut(page[i+len(`data-live="`):], `"`)
	live = strings.ReplaceAll(live, "&amp;", "&")
	s := f.openSSE(t, live)
	zero := 0
	must(t, f.st1.FinishJob(t.Context(), idActive, "build", store.JobComplete, &zero, "", "", time.Now().UnixMilli()+10))
	if e := s.next(t); e.name != "update" {
		t.Fatalf("after a job ended: event %q, want update", e.name)
	}
	must(t, f.st1.FinishRun(t.Context(), idActive, store.RunComplete, "", "", time.Now().UnixMilli()+20))
	for e := s.next(t); e.name != "end"; e = s.next(t) {
		if e.name != "update" {
			t.Fatalf("event %q, want update or end", e.name)
		}
	}
	if e := s.next(t); e.name != "closed" {
		t.Errorf("after end: %q, want the stream closed", e.name)
	}
	// An ended run's page is not live.
	if strings.Contains(f.get(t, "/runs/"+idActive, 200).body, "data-live") {
		t.Errorf("the ended run's page is still live")
	}
}

// TestLive_Limits: too many streams get 503, and Stop ends the open ones.
func TestLive_Limits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{MaxStreams: 1})
	u := "/runs/" + idActive + "/events"
	s := f.openSSE(t, u)
	if s.status != 200 {
		t.Fatalf("first stream: %d", s.status)
	}
	if e := s.next(t); e.name != "update" {
		t.Fatalf("first event %q", e.name)
	}
	r := f.do(t, "GET", "/runs/"+idActive+"/log/events?job=build")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("second stream: %d Retry-After %q, want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	f.srv.Stop()
	if e := s.next(t); e.name != "closed" {
		t.Errorf("after Stop: event %q, want the stream closed", e.name)
	}
	_, err := io.ReadAll(s.res.Body)
	if err != nil {
		t.Errorf("read the rest: %v", err)
	}
}

// TestLive_Head: HEAD of a stream answers its headers and holds no
// stream open.
func TestLive_Head(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{MaxStreams: 1})
	for _, u := range []string{"/runs/" + idActive + "/events", "/runs/" + idActive + "/log/events?job=build"} {
		done := make(chan response, 1)
		go func() { done <- f.do(t, "HEAD", u) }()
		select {
		case r := <-done:
			if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
				t.Errorf("HEAD %s: %d %q", u, r.status, r.header.Get("Content-Type"))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("HEAD %s hangs", u)
		}
	}
	s := f.openSSE(t, "/runs/"+idActive+"/events")
	if s.status != 200 {
		t.Errorf("a stream after HEADs: %d, want 200 (a HEAD holds a stream)", s.status)
	}
}

// TestLive_PageThenFollow: a running log's page ends where its follow
// stream starts, so that no line is lost or repeated between them.
func TestLive_PageThenFollow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	w, finish := f.liveCall(t)
	out := w.Stream("stdout")
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(out, "line %d <b>\n", i)
	}
	io.WriteString(out, "line 101 <b>") // no newline yet: not on the page
	time.Sleep(20 * time.Millisecond)   // the writer flushes on its own
	lines, next := parseLog(t, f.get(t, "/runs/"+idActive+"/log?job=build&sh=1", 200).body)
	if next != "" {
		t.Errorf("a live page that caught up has More lines: %s", next)
	}
	var got []string
	for _, l := range lines {
		got = append(got, strings.TrimPrefix(l.id, "L")+":"+l.text)
	}
	body := f.get(t, "/runs/"+idActive+"/log?job=build&sh=1", 200).body
	i := strings.Index(body, `data-follow="`)
	if i < 0 {
		t.Fatal("the live log page has no data-follow")
	}
	follow, _, _ := strings.Cut(body[i+len(`data-follow="`):], `"`)
	follow = strings.ReplaceAll(follow, "&amp;", "&")
	s := f.openSSE(t, follow)
	io.WriteString(out, "\n")
	for i := 102; i <= 150; i++ {
		fmt.Fprintf(out, "line %d <b>\n", i)
	}
	finish()
	for e := s.next(t); e.name != "end"; e = s.next(t) {
		got = append(got, lineTexts(t, e)...)
	}
	checkSeq(t, got, 1, 150)
}

// TestLive_JobLogNewCall follows a whole job's log from before its first
// sh call: the call's file, which did not exist when the stream began,
// is followed too.
func TestLive_JobLogNewCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{Poll: 20 * time.Millisecond})
	s := f.openSSE(t, "/runs/"+idActive+"/log/events?job=build")
	time.Sleep(100 * time.Millisecond) // the stream has polled the job's files
	w, finish := f.liveCall(t)
	out := w.Stream("stdout")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(out, "line %d <b>\n", i)
	}
	finish()
	code := 0
	must(t, f.st1.FinishJob(t.Context(), idActive, "build", store.JobComplete, &code, "", "", time.Now().UnixMilli()+20))
	var got []string
	for e := s.next(t); e.name != "end"; e = s.next(t) {
		if e.name != "lines" {
			t.Fatalf("event %q %q before end", e.name, e.data)
		}
		got = append(got, lineTexts(t, e)...)
	}
	checkSeq(t, got, 1, 3)
}
