package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// step runs fn, a step of a job done in process rather than by a child
// process (the mirror's tag and push), and records it as an sh call is
// recorded: its own sh-<n>.log holding what fn wrote, redacted, and an
// sh_events row with cmd (redacted) and exit 0, or 1 when fn failed. fn's
// error is also written to the log's stderr. The error returned is fn's,
// or why the step could not be recorded.
func (h *handle) step(cmd string, fn func(stdout, stderr io.Writer) error) error {
	h.seq++
	seq := h.seq
	logPath := filepath.Join(h.jobDir, "sh-"+strconv.Itoa(seq)+".log")
	w, err := crilog.Create(logPath)
	if err != nil {
		return err
	}
	w.Redact(h.e.secrets)
	started := time.Now()
	if err := h.startCall(seq, h.e.secrets.String(cmd), started); err != nil {
		w.Close()
		_ = os.Remove(logPath)
		return err
	}
	outEcho := h.e.runner.Progress.Output(h.job.ID)
	errEcho := h.e.runner.Progress.Output(h.job.ID)
	stdout := tee{w.Stream("stdout"), outEcho}
	stderr := &lineEnds{w: tee{w.Stream("stderr"), errEcho}}

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
	if err := h.finishCall(seq, logPath, exit, finished, w); err != nil {
		return err
	}
	switch {
	case ferr != nil:
		return ferr
	case logErr != nil:
		return fmt.Errorf("%w%s", logErr, diskHint(logErr, h.e.runner.DataRoot))
	}
	return nil
}

// startCall writes the sh_events row of call seq as it starts; cmd must
// be redacted already.
func (h *handle) startCall(seq int, cmd string, started time.Time) error {
	err := h.e.runner.Store.StartShEvent(h.ctx, store.ShEvent{
		RunID: h.e.run.RunID, JobID: h.job.ID, Seq: seq,
		StartedAtMS: started.UnixMilli(), Cmd: cmd,
	})
	if err != nil {
		return fmt.Errorf("record start of sh call %d: %w", seq, err)
	}
	return nil
}

// finishCall completes the row of call seq as it ends, even if the job
// is being torn down, so that the record matches the log file on disk.
// It also makes the call the job's last.
func (h *handle) finishCall(seq int, logPath string, exit int, finished time.Time, w *crilog.Writer) error {
	h.lastExit, h.lastLog = &exit, logPath
	err := h.e.runner.Store.FinishShEvent(context.WithoutCancel(h.ctx), store.ShEvent{
		RunID: h.e.run.RunID, JobID: h.job.ID, Seq: seq,
		FinishedAtMS: finished.UnixMilli(), ExitCode: exit,
		StdoutBytes: w.Bytes("stdout"), StderrBytes: w.Bytes("stderr"),
	})
	if err != nil {
		return fmt.Errorf("record end of sh call %d: %w", seq, err)
	}
	return nil
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
