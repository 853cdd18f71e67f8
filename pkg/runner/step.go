package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// call is the record of one sh call (or step) of a job while it runs:
// its sh-<n>.log, its sh_events row and the echo of its output.
type call struct {
	h       *handle
	seq     int
	logPath string
	log     *crilog.Writer
	outEcho io.WriteCloser // nil unless verbose
	errEcho io.WriteCloser
}

// openCall starts the record of the job's next call: its log and its
// row exist before anything runs, so a command that ran always has
// both, even if the hook dies during it. cmd must be redacted already.
func (h *handle) openCall(cmd string) (*call, error) {
	h.seq++
	c := &call{h: h, seq: h.seq, logPath: h.jobDir.ShLog(h.seq)}
	w, err := crilog.Create(c.logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w%s", err, diskHint(err, h.e.runner.DataRoot))
	}
	w.Redact(h.e.secrets)
	w.Limit(h.e.runner.maxLogBytes())
	err = h.e.runner.Store.StartShEvent(h.ctx, store.ShEvent{
		RunID: h.e.run.RunID, JobID: h.job.ID, Seq: c.seq,
		StartedAtMS: time.Now().UnixMilli(), Cmd: cmd,
	})
	if err != nil {
		w.Close()
		_ = os.Remove(c.logPath)
		return nil, fmt.Errorf("record start of sh call %d: %w", c.seq, err)
	}
	c.log = w
	// One echo per stream: each is written by its own goroutine.
	c.outEcho = h.e.runner.Progress.Output(h.job.ID)
	c.errEcho = h.e.runner.Progress.Output(h.job.ID)
	return c, nil
}

// stream is where the bytes of one stream go: the log, the echo and
// also, when not nil, extra.
func (c *call) stream(name string, extra io.Writer) io.Writer {
	echo := c.outEcho
	if name == "stderr" {
		echo = c.errEcho
	}
	return tee{c.log.Stream(name), echo, extra}
}

// end closes the call's log and completes its row with exit, even if
// the job is being torn down, so that the record matches the log file
// on disk; the call becomes the job's last. logErr is why the log could
// not be written whole (the row is complete regardless); err is why the
// records could not be completed.
func (c *call) end(exit int) (logErr, err error) {
	h := c.h
	if c.outEcho != nil {
		c.outEcho.Close()
		c.errEcho.Close()
	}
	logErr = c.log.Close()
	if logErr != nil {
		logErr = fmt.Errorf("%w%s", logErr, diskHint(logErr, h.e.runner.DataRoot))
	}
	finished := time.Now()
	ctx := context.WithoutCancel(h.ctx)
	// The mark goes first, so the ended row is whole; the call is
	// ended even if the mark could not be written.
	var markErr error
	if c.log.Truncated() {
		markErr = h.e.runner.Store.SetShEventLogTruncated(ctx, h.e.run.RunID, h.job.ID, c.seq)
	}
	h.lastExit, h.lastLog = &exit, c.logPath
	err = h.e.runner.Store.FinishShEvent(ctx, store.ShEvent{
		RunID: h.e.run.RunID, JobID: h.job.ID, Seq: c.seq,
		FinishedAtMS: finished.UnixMilli(), ExitCode: exit,
		StdoutBytes: c.log.Bytes("stdout"), StderrBytes: c.log.Bytes("stderr"),
	})
	if err != nil {
		return logErr, fmt.Errorf("record end of sh call %d: %w", c.seq, err)
	}
	return logErr, markErr
}

// step runs fn, a step of a job done in process rather than by a child
// process (the mirror's tag and push), and records it as an sh call is
// recorded: its own sh-<n>.log holding what fn wrote, redacted, and an
// sh_events row with cmd (redacted) and exit 0, or 1 when fn failed. fn's
// error is also written to the log's stderr. The error returned is fn's,
// or why the step could not be recorded.
func (h *handle) step(cmd string, fn func(stdout, stderr io.Writer) error) error {
	c, err := h.openCall(h.e.secrets.String(cmd))
	if err != nil {
		return err
	}
	stderr := &lineEnds{w: c.stream("stderr", nil)}
	ferr := fn(c.stream("stdout", nil), stderr)
	exit := 0
	if ferr != nil {
		stderr.endLine()
		fmt.Fprintf(stderr, "%v\n", ferr)
		exit = 1
	}
	logErr, err := c.end(exit)
	switch {
	case err != nil:
		return err
	case ferr != nil:
		return ferr
	}
	return logErr
}

// lineEnds passes writes on and remembers whether the last one ended a
// line, so a message can start on a line of its own.
type lineEnds struct {
	w    io.Writer
	open bool // the last byte written was not '\n'
}

func (l *lineEnds) Write(b []byte) (int, error) {
	if len(b) > 0 {
		l.open = b[len(b)-1] != '\n'
	}
	return l.w.Write(b)
}

// endLine ends a line left open.
func (l *lineEnds) endLine() {
	if l.open {
		_, _ = l.Write([]byte{'\n'})
	}
}
