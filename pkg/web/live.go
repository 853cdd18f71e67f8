package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/quire-ci/quire-hook/pkg/ansi"
	"github.com/quire-ci/quire-hook/pkg/logpage"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// Live streams: a heartbeat comment keeps proxies from closing an idle
// stream, and a client that reads nothing for streamWriteTimeout is cut.
const (
	heartbeat          = 15 * time.Second
	streamWriteTimeout = 30 * time.Second
	// A log stream sends at most this much per event.
	streamLines = 500
	streamBytes = 256 << 10
)

// host is this machine's name, for telling whether a run's hook died.
var host, _ = os.Hostname()

// ownerGone reports whether the hook running r has died without ending
// it (reconcile will): its page has nothing more to wait for.
func ownerGone(r store.Run) bool { return runner.OwnerGone(r, host) }

// stream is an open Server-Sent Events response.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startStream answers r with an event stream, or 503 when too many are
// open; release must be called when it ends. A HEAD request gets the
// headers alone (ok false): a stream that nobody reads would hold its
// connection and a slot until the run ended.
func (s *Server) startStream(w http.ResponseWriter, r *http.Request) (st *stream, release func(), ok bool) {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return nil, nil, false
	}
	if s.streams.Add(1) > int64(s.opts.MaxStreams) {
		s.streams.Add(-1)
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many live pages open; try again later", http.StatusServiceUnavailable)
		return nil, nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	w.WriteHeader(http.StatusOK)
	st = &stream{w: w, rc: http.NewResponseController(w)}
	return st, func() { s.streams.Add(-1) }, st.flush() == nil
}

// send writes one event; id, when set, is what a reconnecting browser
// sends back as Last-Event-ID.
func (st *stream) send(event, id string, data []byte) error {
	st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if id != "" {
		fmt.Fprintf(st.w, "id: %s\n", id)
	}
	if _, err := fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return st.flush()
}

// ping writes a comment, which browsers ignore.
func (st *stream) ping() error {
	st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := fmt.Fprint(st.w, ": ping\n\n"); err != nil {
		return err
	}
	return st.flush()
}

func (st *stream) flush() error { return st.rc.Flush() }

// runEvents streams "update" whenever the run's rows change and "end"
// once it has ended; the page then fetches itself again. It reads the
// database once per Poll.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := s.findRun(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, release, ok := s.startStream(w, r)
	if release != nil {
		defer release()
	}
	if !ok {
		return
	}
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	// The page was rendered from the rows it names in seen= (0: none).
	last, _ := strconv.ParseUint(r.URL.Query().Get("seen"), 16, 64)
	beat := time.Now()
	for {
		progress, err := f.src.store.RunProgress(ctx, f.run.ID)
		if err != nil {
			st.send("end", "", []byte(`"gone"`))
			return
		}
		run, err := f.src.store.GetRun(ctx, f.run.ID)
		if err != nil {
			st.send("end", "", []byte(`"gone"`))
			return
		}
		sum := fingerprint(progress)
		ended := run.State.Ended() || ownerGone(run)
		switch {
		case ended:
			st.send("end", "", []byte(fmt.Sprintf("%q", run.State)))
			return
		case sum != last:
			if st.send("update", "", []byte(fmt.Sprintf("%q", run.State))) != nil {
				return
			}
			beat = time.Now()
		case time.Since(beat) > heartbeat:
			if st.ping() != nil {
				return
			}
			beat = time.Now()
		}
		last = sum
		select {
		case <-ctx.Done():
			return
		case <-s.stop.Done():
			return
		case <-tick.C:
		}
	}
}

// fingerprint sums a run's progress (store.RunProgress) for seen=.
func fingerprint(progress string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(progress))
	return h.Sum64() | 1
}

// lineEvent is a log line as live.js builds it: the spans' classes and
// texts, never HTML.
type lineEvent struct {
	N     int64       `json:"n"`
	Class string      `json:"cls"`
	Src   string      `json:"src,omitempty"`
	Spans []spanEvent `json:"spans"`
}

type spanEvent struct {
	Class string `json:"c,omitempty"`
	Text  string `json:"t"`
}

// logEvents streams the lines a log gets after the cursor from (or the
// browser's Last-Event-ID, when it reconnects), as "lines" events, and
// "end" once the job or call has ended and every line was sent.
func (s *Server) logEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := s.logTarget(ctx, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	at := r.URL.Query().Get("from")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		at = id
	}
	from, err := logpage.ParseCursor(at, len(t.files))
	if err != nil {
		s.fail(w, r, badf("from=%q is not a cursor from this server's pages: %v", short(at, 80), err))
		return
	}
	tail, err := logpage.Follow(t.files, from, t.opener())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer func() { tail.Close() }()
	st, release, ok := s.startStream(w, r)
	if release != nil {
		defer release()
	}
	if !ok {
		return
	}

	c := colours{}
	every := max(s.opts.Poll/2, 10*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	done, checked, beat := t.done, time.Now(), time.Now()
	if done {
		tail.End()
	}
	for {
		p, err := tail.Next(streamLines, streamBytes)
		if err != nil {
			st.send("end", "", []byte(fmt.Sprintf("%q", err.Error())))
			return
		}
		if len(p.Lines) > 0 {
			events := make([]lineEvent, 0, len(p.Lines))
			for _, l := range p.Lines {
				e := lineEvent{N: l.N, Class: lineClass(l)}
				if len(t.files) > 1 {
					e.Src = t.names[l.Source]
				}
				for _, sp := range c.spans(l) {
					e.Spans = append(e.Spans, spanEvent{Class: sp.Style.Class(), Text: sp.Text})
				}
				events = append(events, e)
			}
			b, _ := json.Marshal(events)
			if st.send("lines", p.Next.String(), b) != nil {
				return
			}
			from = p.Next
			beat = time.Now()
			continue // there may be more at once
		}
		if p.EOF {
			st.send("end", "", []byte(`"ended"`))
			return
		}
		if time.Since(beat) > heartbeat {
			if st.ping() != nil {
				return
			}
			beat = time.Now()
		}
		// Whether the writer is done is in the database: look once per
		// Poll, and read to the end once it is.
		if !done && time.Since(checked) >= s.opts.Poll {
			checked = time.Now()
			now, err := s.logTarget(ctx, r)
			if err == nil && len(now.files) > len(t.files) {
				// A job's new sh call: follow its file too, from where
				// the stream is (its offset there is 0).
				next, ferr := logpage.Follow(now.files, from, now.opener())
				if ferr != nil {
					st.send("end", "", []byte(fmt.Sprintf("%q", ferr.Error())))
					return
				}
				tail.Close()
				tail, t = next, now
			}
			if err != nil || now.done {
				done = true
				tail.End()
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.stop.Done():
			return
		case <-tick.C:
		}
	}
}

// deadlineWriter writes a long response, moving the write deadline
// forward before each write: a client that keeps reading gets it all,
// one that stops is cut after streamWriteTimeout.
type deadlineWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	stop  <-chan struct{} // closed when the server stops: the download ends
	wrote bool            // whether anything was written
}

// errStopping ends a download when the server stops.
var errStopping = errors.New("the server is stopping")

func (d *deadlineWriter) Header() http.Header    { return d.w.Header() }
func (d *deadlineWriter) WriteHeader(status int) { d.w.WriteHeader(status) }
func (d *deadlineWriter) Write(p []byte) (int, error) {
	select {
	case <-d.stop:
		return 0, errStopping
	default:
	}
	d.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	d.wrote = true
	return d.w.Write(p)
}

// ansiCSS serves the stylesheet of the log colours.
func (s *Server) ansiCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	if r.Method != http.MethodHead {
		fmt.Fprint(w, ansi.CSS())
	}
}
