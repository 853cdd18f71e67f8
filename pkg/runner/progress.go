package runner

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/quire-ci/quire-hook/pkg/redact"
	"github.com/quire-ci/quire-hook/pkg/report"
)

// Progress writes one line per event to the pusher (git shows the hook's
// stderr as "remote:" lines). It is safe for concurrent use.
type Progress struct {
	// Quiet prints only failures; Verbose also streams every sh output
	// line prefixed with "[job]".
	Quiet, Verbose bool

	mu      sync.Mutex
	w       io.Writer
	secrets redact.Set // every secret a run of this process resolved
}

// NewProgress returns a Progress writing to w (nil: discard).
func NewProgress(w io.Writer, quiet, verbose bool) *Progress {
	if w == nil {
		w = io.Discard
	}
	return &Progress{w: w, Quiet: quiet, Verbose: verbose}
}

// Infof prints an event line unless Quiet.
func (p *Progress) Infof(format string, args ...any) {
	if p == nil || p.Quiet {
		return
	}
	p.line(fmt.Sprintf(format, args...))
}

// Failf prints a failure line, also when Quiet.
func (p *Progress) Failf(format string, args ...any) {
	if p == nil {
		return
	}
	p.line(fmt.Sprintf(format, args...))
}

// Redact makes every line printed from now on show the secret's value
// as "{{ name }}". The value's length was checked when the run resolved
// it.
func (p *Progress) Redact(name, value string) {
	if p == nil {
		return
	}
	_ = p.secrets.Add(name, value)
}

func (p *Progress) line(s string) {
	s = p.secrets.String(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "quire: %s\n", s)
}

// Output returns a writer that echoes a job's sh output line by line as
// "[job] line" when Verbose, or nil. The output passes through a
// streaming redactor first, so a secret is hidden however the pipe
// split it; Close flushes it.
func (p *Progress) Output(job string) io.WriteCloser {
	if p == nil || !p.Verbose {
		return nil
	}
	pw := &prefixWriter{p: p, prefix: "[" + job + "] "}
	return &redactedEcho{Writer: redact.NewWriter(&p.secrets, pw), pw: pw}
}

// redactedEcho is the Writer Output returns.
type redactedEcho struct {
	*redact.Writer
	pw *prefixWriter
}

// Close flushes the redactor, then echoes a pending unterminated line.
func (r *redactedEcho) Close() error {
	err := r.Writer.Close()
	r.pw.Close()
	return err
}

// maxEcho bounds a partial line held for the verbose echo.
const maxEcho = 16 * 1024

type prefixWriter struct {
	p      *Progress
	prefix string
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			room := maxEcho - len(w.buf)
			if len(b) < room {
				w.buf = append(w.buf, b...)
				break
			}
			w.buf = append(w.buf, b[:room]...)
			b = b[room:]
			w.flush()
			continue
		}
		w.buf = append(w.buf, b[:i]...)
		b = b[i+1:]
		w.flush()
	}
	return n, nil
}

func (w *prefixWriter) flush() {
	line := w.p.secrets.Bytes(bytes.TrimSuffix(w.buf, []byte("\r")))
	w.p.mu.Lock()
	fmt.Fprintf(w.p.w, "%s%s\n", w.prefix, line)
	w.p.mu.Unlock()
	w.buf = w.buf[:0]
}

// Close echoes a pending unterminated line.
func (w *prefixWriter) Close() error {
	if len(w.buf) > 0 {
		w.flush()
	}
	return nil
}

// duration formats d for people: "850ms", "12.3s", "4m05s".
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}

// timing says how long a run that ends at end took, for its last line:
// " in 7.5s" when it ran at once, ", waited 9.1s, ran 7.5s" when it had
// to wait for its turn, " after 3.0s" when it ended before its turn
// (queued is when it was queued).
func timing(res Result, queued, end time.Time) string {
	switch {
	case res.began.IsZero():
		return " after " + duration(end.Sub(queued))
	case res.waited:
		return fmt.Sprintf(", waited %s, ran %s", duration(res.began.Sub(queued)), duration(end.Sub(res.began)))
	}
	return " in " + duration(end.Sub(res.began))
}

// pointers prints where the pusher can read a run's records: the
// command that prints its logs on the server, with --git-dir so that it
// works from any directory, and its web page when quire.url is set.
func (r *Runner) pointers(printf func(format string, args ...any), runID string) {
	printf("logs: %s logs %s", ServerCommand(r.GitDir), runID)
	if r.URL != "" {
		printf("web: %s/runs/%s", strings.TrimRight(r.URL, "/"), runID)
	}
}

// ServerCommand is how the lines a pusher reads name a quire-hook
// command to run on the server: with --git-dir (when known), so that it
// works from any directory.
func ServerCommand(gitDir string) string {
	if gitDir == "" {
		return "quire-hook"
	}
	return "quire-hook --git-dir " + report.ShellWord(gitDir)
}
