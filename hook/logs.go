package hook

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// followPoll is how often `logs --follow` looks for new lines, jobs and
// sh calls.
const followPoll = 200 * time.Millisecond

func logsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print the logs of a run, or of one of its jobs",
		ArgsUsage: "<run> [<job>]",
		Description: "Prints the output of every job of the run in run order (or of one job): the\n" +
			"lines of each sh call (jobs/<job>/sh-N.log) and of job.log (q.log, print and the\n" +
			"job's error), merged in time order. Lines split in the file (over 16 KiB) are\n" +
			"joined back; a line over 1 MiB is printed as several.\n\n" +
			"Lines starting with '==> ' are headers: '==> job <job>: <state>' before each\n" +
			"job, '==> <job> sh-N (exit E): <cmd>' before the output of an sh call (just\n" +
			"'==> <job> sh-N' while it runs: its command is recorded when it ends), and\n" +
			"'==> <job> job.log' before job.log lines. A stderr line starts with '! '\n" +
			"(grep '^! '; with --timestamps, after the time). Following, a job or sh call\n" +
			"whose header was printed before it ended gets its header again once it has,\n" +
			"with its final state or exit code, and logs exits 0 for a run that completed\n" +
			"(or was superseded), 1 for one that failed.\n\n" + runArgsHelp,
		Flags: append(runSelectFlags(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines until the run ends; exit 1 if it failed"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "start each line with its time (RFC 3339, UTC)"},
		),
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := trailingFlags(c, "follow", "f", "timestamps", "t", "ref=", "repo=")
			if err != nil {
				return err
			}
			s, dataRoot, run, args, err := g.openRun(c, args)
			if err != nil {
				return err
			}
			defer s.Close()
			if len(args) > 1 {
				return usageErr("logs takes a run and optionally a job: %s [<job>]", runArgsUsage)
			}
			l := &runLogs{
				s:      s,
				run:    run,
				runDir: filepath.Join(dataRoot, "runs", run.ID),
				follow: c.Bool("follow"),
				p:      &logPrinter{w: bufio.NewWriterSize(g.io.Stdout, 64<<10), timestamps: c.Bool("timestamps")},
			}
			if len(args) == 1 {
				l.job = args[0]
			}
			l.host, _ = os.Hostname()
			return l.print(c.Context)
		},
	}
}

// runLogs prints the logs of one run.
type runLogs struct {
	s      *store.Store
	run    store.Run
	runDir string
	job    string // "" for every job
	follow bool
	p      *logPrinter

	cur   int      // index of the job being printed, among the selected ones
	open  *jobLogs // its logs
	found bool     // the job named by job was seen
	jobs  []string // every job id seen, for an error message
	host  string   // this host, to tell whether the run's owner is gone
}

// print prints every selected job in turn. Following, it polls the
// records and the files until the run has ended and everything is
// printed; it never holds more than a line per stream in memory.
func (l *runLogs) print(ctx context.Context) error {
	defer l.p.w.Flush()
	for {
		// Read the records before the files: whatever they say has
		// ended was written completely before.
		run, err := l.s.GetRun(ctx, l.run.ID)
		if err != nil {
			return err
		}
		jobs, err := l.s.ListJobs(ctx, run.ID)
		if err != nil {
			return err
		}
		events, err := l.s.ListShEvents(ctx, run.ID)
		if err != nil {
			return err
		}
		gone := l.follow && !finished(run.State) && runner.OwnerGone(run, l.host)
		ended := !l.follow || finished(run.State) || gone

		l.jobs = l.jobs[:0]
		var selected []store.Job
		for _, j := range jobs {
			l.jobs = append(l.jobs, j.JobID)
			if l.job == "" || j.JobID == l.job {
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
		case <-time.After(followPoll):
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
			l.open = &jobLogs{id: j.JobID, dir: filepath.Join(l.runDir, "jobs", j.JobID)}
			switch {
			case l.job == "" || j.State == "skipped":
				// A skipped job has no logs: its header says why.
				l.p.header("job "+j.JobID, jobHeader(j))
				l.open.final = finished(j.State)
			case !l.follow:
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
		done := ended || finished(j.State)
		if err := l.open.pump(l.p, done, calls); err != nil {
			return err
		}
		if !done {
			return nil
		}
		if !l.open.final && finished(j.State) {
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
	if l.job != "" && !l.found {
		return usageErr("run %s has no job %q (jobs: %s)", run.ID, l.job, strings.Join(l.jobs, ", "))
	}
	if l.job == "" {
		msg := "run " + runState(run)
		if d := span(run.StartedAtMS, run.FinishedAtMS); d != "-" {
			msg += " in " + d
		}
		if run.Error != "" {
			msg += ": " + firstLine(run.Error)
		}
		l.p.header("run", msg)
	}
	if gone {
		l.p.header("run", fmt.Sprintf("the hook running it (pid %d) is gone; 'quire-hook reconcile' records it as orphaned", run.OwnerPID))
	}
	if err := l.p.w.Flush(); err != nil {
		return fmt.Errorf("write logs: %w", err)
	}
	if l.follow && (gone || run.State == "failed") {
		return errRunFailed // the headers said why
	}
	return nil
}

func jobHeader(j store.Job) string {
	s := "job " + j.JobID + ": " + string(j.State)
	if d := span(j.StartedAtMS, j.FinishedAtMS); d != "-" {
		s += " in " + d
	}
	if j.Error != "" {
		s += ": " + clip(j.Error, 100)
	}
	return s
}

// finished reports whether a run or job state is final.
func finished[S ~string](state S) bool { return state != "pending" && state != "active" }

// jobLogs merges the logs of one job: its sh-N.log files one after the
// other, and its job.log beside them, by time.
type jobLogs struct {
	id  string
	dir string

	jl    *logTail // job.log, once it exists
	sh    *logTail // sh-<seq>.log, once it exists
	seq   int      // the sh call open, or the last one closed
	shown bool     // the header of sh-<seq> has been printed
	ended bool     // ... with the call's exit code
	final bool     // the job's header has been printed with its final state
}

// pump prints the lines that are there. done says the job has ended, so
// its files are complete; calls are its recorded sh calls by seq, whose
// files are complete too.
func (j *jobLogs) pump(p *logPrinter, done bool, calls map[int]store.ShEvent) error {
	var err error
	if j.jl == nil {
		if j.jl, err = openTail(filepath.Join(j.dir, "job.log")); err != nil {
			return err
		}
	}
	for {
		if j.sh == nil {
			if j.sh, err = openTail(filepath.Join(j.dir, "sh-"+strconv.Itoa(j.seq+1)+".log")); err != nil {
				return err
			}
			if j.sh != nil {
				j.seq++
				j.shown = false
			}
		}
		call, recorded := calls[j.seq]
		var a, b *logLine
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
			(a == nil || j.shown || a.time.UnixMilli() >= call.StartedAtMS) {
			if !j.shown || (recorded && !j.ended) {
				// Its header, or again with the exit code it lacked.
				p.header(j.shKey(), j.shHeader(call, recorded))
			}
			j.sh.close()
			j.sh = nil
			continue
		}
		switch {
		case a != nil && (b == nil || !b.time.Before(a.time)):
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
func (p *logPrinter) line(key, header string, l *logLine) {
	if p.key != key {
		p.header(key, header)
	}
	if p.timestamps {
		p.w.WriteString(l.time.UTC().Format(time.RFC3339Nano))
		p.w.WriteByte(' ')
	}
	if l.stderr {
		p.w.WriteString("! ")
	}
	p.w.Write(l.content)
	p.w.WriteByte('\n')
}
