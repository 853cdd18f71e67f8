package hook

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/store"
)

func showCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:         "show",
		Usage:        "print a run, its jobs and every sh call",
		ArgsUsage:    runArgsUsage,
		Description:  runArgsHelp,
		Flags:        append(runSelectFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON (keys as in docs/SCHEMA.md)"}),
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := trailingFlags(c, "json", "ref=", "repo=")
			if err != nil {
				return err
			}
			s, dataRoot, run, args, err := g.openRun(c, args)
			if err != nil {
				return err
			}
			defer s.Close()
			if len(args) != 0 {
				return usageErr("show takes one run: %s", runArgsUsage)
			}
			rec, err := loadRecord(c.Context, s, run.ID)
			if err != nil {
				return usageErr("%v", err)
			}
			if c.Bool("json") {
				return writeJSON(g.io.Stdout, newRecordJSON(rec, dataRoot))
			}
			printRecord(g.io.Stdout, rec, dataRoot)
			return nil
		},
	}
}

// record is a run with everything recorded under it.
type record struct {
	Run      store.Run       `json:"run"`
	Jobs     []store.Job     `json:"jobs"`
	ShEvents []store.ShEvent `json:"sh_events"`
}

func loadRecord(ctx context.Context, s *store.Store, id string) (record, error) {
	run, err := s.GetRun(ctx, id)
	if err != nil {
		return record{}, err
	}
	jobs, err := s.ListJobs(ctx, run.ID)
	if err != nil {
		return record{}, err
	}
	events, err := s.ListShEvents(ctx, run.ID)
	if err != nil {
		return record{}, err
	}
	return record{Run: run, Jobs: jobs, ShEvents: events}, nil
}

// printRecord writes a run for people.
func printRecord(w io.Writer, rec record, dataRoot string) {
	r := rec.Run
	fmt.Fprintf(w, "run      %s\n", r.ID)
	fmt.Fprintf(w, "repo     %s\nref      %s\nsha      %s\ntrigger  %s\n", printable(r.Repo), printable(r.Ref), r.SHA, r.Trigger)
	// NULL for runs recorded before schema 5.
	fmt.Fprintf(w, "pusher   %s\nauthor   %s\nsubject  %s\n",
		cmp.Or(printable(r.Pusher), "-"), cmp.Or(printable(r.Author), "-"), cmp.Or(printable(r.Subject), "-"))
	state := runState(r)
	fmt.Fprintf(w, "state    %s\nqueued   %s\nduration %s\n", state, stamp(r.QueuedAtMS), span(r.StartedAtMS, r.FinishedAtMS))
	if r.Error != "" {
		fmt.Fprintf(w, "error    %s\n", printable(r.Error))
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tDURATION\tEXIT\tOUTPUTS\tERROR")
	for _, j := range rec.Jobs {
		exit, outputs := "-", "-"
		if j.ExitCode != nil {
			exit = strconv.Itoa(*j.ExitCode)
		}
		if j.Outputs != "" {
			outputs = clip(j.Outputs, 40)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.JobID, j.State, span(j.StartedAtMS, j.FinishedAtMS), exit, outputs, printable(firstLine(j.Error)))
	}
	tw.Flush()
	if len(rec.ShEvents) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSEQ\tEXIT\tDURATION\tCMD\tLOG")
	for _, e := range rec.ShEvents {
		log := filepath.Join(dataRoot, "runs", r.ID, "jobs", e.JobID, "sh-"+strconv.Itoa(e.Seq)+".log")
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", e.JobID, e.Seq, shExit(e), span(e.StartedAtMS, e.FinishedAtMS), clip(e.Cmd, 60), log)
	}
	tw.Flush()
}

func stamp(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05")
}

func span(from, to int64) string {
	if from == 0 || to == 0 {
		return "-"
	}
	return (time.Duration(to-from) * time.Millisecond).String()
}

// clip shortens s to its first line and at most n bytes, for a table;
// the text is made printable first (see printable).
func clip(s string, n int) string {
	s = printable(firstLine(s))
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// printable makes text that a pusher wrote (a commit message, a ref, an
// error, a command) safe for a terminal: control characters, C1 codes
// included, and bytes that are not UTF-8 are written as escapes (\x1b,
// \u009b, \xff), so no escape sequence reaches the operator's terminal.
// Printable text, tabs excepted (they would break the tables), is kept.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i] + " ..."
		}
	}
	return s
}
