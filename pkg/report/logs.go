package report

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// ErrRunFailed is what Logs.Print returns, following, for a run that
// failed or whose hook died: its last header said why.
var ErrRunFailed = errors.New("the run failed")

// Logs prints the logs of a run, as `quire-hook logs` does: every job
// (or one) in run order, each job's sh-N.log files one after the other
// and its job.log beside them, merged by time, with "==> " headers
// between the sources and "! " before stderr lines. Following, it polls
// the records and the files until the run has ended and everything is
// printed, reprinting the header of a job or sh call that was printed
// while it ran once it has ended. It holds no more than a line per
// stream in memory (crilog.Follower's bounds).
type Logs struct {
	Store *store.Store
	Root  datadir.Root
	Run   store.Run
	// Job is the one job to print; "" for every job.
	Job string
	// Follow keeps printing until the run has ended.
	Follow bool
	// Timestamps starts each line with its time (RFC 3339, UTC).
	Timestamps bool
	// OwnerGone reports whether the hook process running a run is gone
	// (runner.OwnerGone on this host); following stops there. nil: the
	// owner is never taken for gone.
	OwnerGone func(store.Run) bool
	// Poll is how often following looks for new lines, jobs and sh
	// calls; 200 ms if 0.
	Poll time.Duration
}

// Print writes the logs to w. Following, it returns ErrRunFailed for a
// run that failed or whose hook is gone, and nil when ctx is canceled
// (the operator stopped it). An unknown Job is an error naming the
// run's jobs.
func (l Logs) Print(ctx context.Context, w io.Writer) error {
	p := &logPrinter{w: bufio.NewWriterSize(w, 64<<10), timestamps: l.Timestamps}
	defer p.w.Flush()
	return (&runLogs{Logs: l, p: p, dir: l.Root.Run(l.Run.ID)}).print(ctx)
}

// runLogs is the state of one Print.
type runLogs struct {
	Logs
	p   *logPrinter
	dir datadir.RunDir

	cur   int      // index of the job being printed, among the selected ones
	open  *jobLogs // its logs
	found bool     // the job named by Job was seen
	jobs  []string // every job id seen, for an error message
}

func (l *runLogs) print(ctx context.Context) error {
	poll := l.Poll
	if poll == 0 {
		poll = 200 * time.Millisecond
	}
	for {
		// Read the records before the files: whatever they say has
		// ended was written completely before.
		run, err := l.Store.GetRun(ctx, l.Run.ID)
		if err != nil {
			return err
		}
		jobs, err := l.Store.ListJobs(ctx, run.ID)
		if err != nil {
			return err
		}
		events, err := l.Store.ListShEvents(ctx, run.ID)
		if err != nil {
			return err
		}
		gone := l.Follow && !run.State.Ended() && l.OwnerGone != nil && l.OwnerGone(run)
		ended := !l.Follow || run.State.Ended() || gone

		l.jobs = l.jobs[:0]
		var selected []store.Job
		for _, j := range jobs {
			l.jobs = append(l.jobs, j.JobID)
			if l.Job == "" || j.JobID == l.Job {
				selected = append(selected, j)
			}
		}
		if err := l.pumpJobs(selected, events, ended); err != nil {
			return err
		}
		if ended {
			return l.end(run, gone)
		}
		if err := l.p.w.Flush(); err != nil {
			return fmt.Errorf("write logs: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil // interrupted by the operator: not an error
		case <-time.After(poll):
		}
	}
}

// pumpJobs prints what is there of the selected jobs, in order, moving
// on from a job once it has ended and all of it is printed.
func (l *runLogs) pumpJobs(jobs []store.Job, events []store.ShEvent, ended bool) error {
	for ; l.cur < len(jobs); l.cur++ {
		j := jobs[l.cur]
		l.found = true
		if l.open == nil {
			l.open = &jobLogs{id: j.JobID, dir: l.dir.Job(j.JobID)}
			switch {
			case l.Job == "" || j.State == store.JobSkipped:
				// A skipped job has no logs: its header says why.
				l.p.header("job "+j.JobID, jobHeader(j))
				l.open.final = j.State.Ended()
			case !l.Follow:
				l.open.final = true // one job, as it is now: no header
			}
		}
		// Rows are written when a call starts; only an ended one says
		// that its file is complete.
		calls := make(map[int]store.ShEvent)
		for _, e := range events {
			if e.JobID == j.JobID && e.FinishedAtMS != 0 {
				calls[e.Seq] = e
			}
		}
		done := ended || j.State.Ended()
		if err := l.open.pump(l.p, done, calls); err != nil {
			return err
		}
		if !done {
			return nil
		}
		if !l.open.final && j.State.Ended() {
			// Its header was printed while it ran, or not at all
			// (following one job): say how it ended.
			l.p.header("job "+j.JobID, jobHeader(j))
		}
		l.open.close()
		l.open = nil
	}
	return nil
}

// end closes the output once the run has ended (or, not following,
// once what is there is printed).
func (l *runLogs) end(run store.Run, gone bool) error {
	if l.open != nil {
		l.open.close()
	}
	if l.Job != "" && !l.found {
		return fmt.Errorf("run %s has no job %q (jobs: %s)", run.ID, l.Job, strings.Join(l.jobs, ", "))
	}
	if l.Job == "" {
		msg := "run " + RunState(run)
		if d := Span(run.StartedAtMS, run.FinishedAtMS); d != "-" {
			msg += " in " + d
		}
		if run.Error != "" {
			msg += ": " + Printable(firstLine(run.Error))
		}
		l.p.header("run", msg)
	}
	if gone {
		l.p.header("run", fmt.Sprintf("the hook running it (pid %d) is gone; 'quire-hook reconcile' records it as orphaned", run.OwnerPID))
	}
	if err := l.p.w.Flush(); err != nil {
		return fmt.Errorf("write logs: %w", err)
	}
	if l.Follow && (gone || run.State == store.RunFailed) {
		return ErrRunFailed
	}
	return nil
}

func jobHeader(j store.Job) string {
	s := "job " + j.JobID + ": " + string(j.State)
	if d := Span(j.StartedAtMS, j.FinishedAtMS); d != "-" {
		s += " in " + d
	}
	if j.Error != "" {
		s += ": " + clip(j.Error, 100)
	}
	return s
}

// jobLogs merges the logs of one job: its sh-N.log files one after the
// other, and its job.log beside them, by time.
type jobLogs struct {
	id  string
	dir datadir.JobDir

	jl    *source // job.log, once it exists
	sh    *source // sh-<seq>.log, once it exists
	seq   int     // the sh call open, or the last one closed
	shown bool    // the header of sh-<seq> has been printed
	ended bool    // ... with the call's exit code
	final bool    // the job's header has been printed with its final state
}

// pump prints the lines that are there. done says the job has ended, so
// its files are complete; calls are its recorded sh calls by seq, whose
// files are complete too.
func (j *jobLogs) pump(p *logPrinter, done bool, calls map[int]store.ShEvent) error {
	var err error
	if j.jl == nil {
		if j.jl, err = openSource(j.dir.JobLog()); err != nil {
			return err
		}
	}
	for {
		if j.sh == nil {
			if j.sh, err = openSource(j.dir.ShLog(j.seq + 1)); err != nil {
				return err
			}
			if j.sh != nil {
				j.seq++
				j.shown = false
			}
		}
		call, recorded := calls[j.seq]
		var a, b *crilog.Entry
		if j.jl != nil {
			if a, err = j.jl.peek(done); err != nil {
				return err
			}
		}
		if j.sh != nil {
			if b, err = j.sh.peek(done || recorded); err != nil {
				return err
			}
		}
		// An sh call printed in full is closed, with its header if it
		// printed nothing, in its place among the job.log lines.
		if j.sh != nil && b == nil && (done || recorded) &&
			(a == nil || j.shown || a.Time.UnixMilli() >= call.StartedAtMS) {
			if !j.shown || (recorded && !j.ended) {
				// Its header, or again with the exit code it lacked.
				p.header(j.shKey(), j.shHeader(call, recorded))
			}
			j.sh.close()
			j.sh = nil
			continue
		}
		switch {
		case a != nil && (b == nil || !b.Time.Before(a.Time)):
			p.line(j.id+"/job.log", j.id+" job.log", a)
			j.jl.take()
		case b != nil:
			if !j.shown || p.key != j.shKey() {
				p.header(j.shKey(), j.shHeader(call, recorded))
				j.shown, j.ended = true, recorded
			}
			p.line(j.shKey(), "", b)
			j.sh.take()
		default:
			return nil
		}
	}
}

func (j *jobLogs) shKey() string { return fmt.Sprintf("%s/sh-%d", j.id, j.seq) }

func (j *jobLogs) shHeader(call store.ShEvent, recorded bool) string {
	if !recorded {
		return fmt.Sprintf("%s sh-%d", j.id, j.seq)
	}
	return fmt.Sprintf("%s sh-%d (exit %s): %s", j.id, j.seq, shExit(call), clip(call.Cmd, 200))
}

func (j *jobLogs) close() {
	j.jl.close()
	j.sh.close()
}

// source is a log being followed, with the line read ahead of printing
// so that two sources can be merged by time.
type source struct {
	f    *crilog.Follower
	next *crilog.Entry
}

// openSource opens the log at path, or returns nil if it does not exist
// (yet).
func openSource(path string) (*source, error) {
	f, err := crilog.Follow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &source{f: f}, nil
}

// peek returns the next whole line without taking it, or nil when no
// line is complete yet (or, final, none is left). final says the file
// is complete.
func (s *source) peek(final bool) (*crilog.Entry, error) {
	if s.next != nil {
		return s.next, nil
	}
	if final {
		s.f.End()
	}
	e, err := s.f.Next()
	switch {
	case errors.Is(err, crilog.ErrNotYet), errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, err
	}
	s.next = &e
	return s.next, nil
}

// take drops the line peek returned.
func (s *source) take() { s.next = nil }

// close closes the file; a nil source is fine.
func (s *source) close() {
	if s != nil {
		s.f.Close()
	}
}

// logPrinter writes log lines and the headers between them.
type logPrinter struct {
	w          *bufio.Writer
	timestamps bool
	key        string // the source of the lines printed last
}

// header prints a header line and makes key the current source.
func (p *logPrinter) header(key, text string) {
	p.key = key
	p.w.WriteString("==> ")
	p.w.WriteString(text)
	p.w.WriteByte('\n')
}

// line prints one log line of source key, first printing the header
// text if the lines printed last came from elsewhere.
func (p *logPrinter) line(key, header string, e *crilog.Entry) {
	if p.key != key {
		p.header(key, header)
	}
	if p.timestamps {
		p.w.WriteString(e.Time.UTC().Format(time.RFC3339Nano))
		p.w.WriteByte(' ')
	}
	if e.Stream == crilog.Stderr {
		p.w.WriteString("! ")
	}
	p.w.Write(e.Content)
	p.w.WriteByte('\n')
}
