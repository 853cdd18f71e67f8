package runner

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// step runs fn, a step of a job done in process rather than by a child
// process (the mirror's tag and push), and records it as an sh call is
// recorded: its own sh-<n>.log holding what fn wrote, redacted, and an
// sh_events row with cmd and exit 0, or 1 when fn failed. fn's error is
// also written to the log's stderr. The error returned is fn's, or why
// the step could not be recorded.
func (h *handle) step(cmd string, fn func(stdout, stderr io.Writer) error) error {
	h.seq++
	seq := h.seq
	logPath := filepath.Join(h.jobDir, "sh-"+strconv.Itoa(seq)+".log")
	w, err := crilog.Create(logPath)
	if err != nil {
		return err
	}
	w.Redact(h.e.secrets)
	outEcho := h.e.runner.Progress.Output(h.job.ID)
	errEcho := h.e.runner.Progress.Output(h.job.ID)
	stdout := tee{w.Stream("stdout"), outEcho}
	stderr := &lineEnds{w: tee{w.Stream("stderr"), errEcho}}

	started := time.Now()
	ferr := fn(stdout, stderr)
	if ferr != nil {
		stderr.endLine()
		fmt.Fprintf(stderr, "%v\n", ferr)
	}
	if outEcho != nil {
		outEcho.Close()
		errEcho.Close()
	}
	logErr := w.Close()
	finished := time.Now()

	exit := 0
	if ferr != nil {
		exit = 1
	}
	if err := h.recordCall(seq, logPath, cmd, exit, started, finished, w); err != nil {
		return fmt.Errorf("record step %d: %w", seq, err)
	}
	switch {
	case ferr != nil:
		return ferr
	case logErr != nil:
		return fmt.Errorf("%w%s", logErr, diskHint(logErr, h.e.runner.DataRoot))
	}
	return nil
}

// recordCall writes the sh_events row of call seq as it ends, even if
// the job is being torn down, so that the record matches the log file on
// disk; the command is redacted. It also makes the call the job's last.
func (h *handle) recordCall(seq int, logPath, cmd string, exit int, started, finished time.Time, w *crilog.Writer) error {
	h.lastExit, h.lastLog = &exit, logPath
	return h.e.runner.Store.AddShEvent(context.WithoutCancel(h.ctx), store.ShEvent{
		RunID: h.e.run.RunID, JobID: h.job.ID, Seq: seq,
		StartedAtMS: started.UnixMilli(), FinishedAtMS: finished.UnixMilli(),
		ExitCode: exit, Cmd: h.e.secrets.String(cmd),
		StdoutBytes: w.Bytes("stdout"), StderrBytes: w.Bytes("stderr"),
	})
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
