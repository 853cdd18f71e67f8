package report

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// PrintRuns writes runs as a table for people, one row per run, or "no
// runs".
func PrintRuns(w io.Writer, runs []store.Run) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREPO\tREF\tSHA\tTRIGGER\tSTATE\tDURATION\tQUEUED\tPUSHER\tAUTHOR\tSUBJECT")
	for _, r := range runs {
		// The author's name without the address keeps the row short;
		// show prints both. Runs recorded before schema 5 have none.
		author, _, _ := strings.Cut(r.Author, " <")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, Printable(r.Repo), Printable(r.Ref), gitrepo.ShortSHA(r.SHA),
			r.Trigger, RunState(r), Span(r.StartedAtMS, r.FinishedAtMS), stamp(r.QueuedAtMS),
			cmp.Or(Printable(r.Pusher), "-"), cmp.Or(Printable(author), "-"), cmp.Or(clip(r.Subject, 50), "-"))
	}
	tw.Flush()
}

// PrintRecord writes a run, its jobs and its sh calls for people; the
// paths of the sh logs are under root.
func PrintRecord(w io.Writer, rec Record, root datadir.Root) {
	r := rec.Run
	fmt.Fprintf(w, "run      %s\n", r.ID)
	fmt.Fprintf(w, "repo     %s\nref      %s\nsha      %s\ntrigger  %s\n", Printable(r.Repo), Printable(r.Ref), r.SHA, r.Trigger)
	// NULL for runs recorded before schema 5.
	fmt.Fprintf(w, "pusher   %s\nauthor   %s\nsubject  %s\n",
		cmp.Or(Printable(r.Pusher), "-"), cmp.Or(Printable(r.Author), "-"), cmp.Or(Printable(r.Subject), "-"))
	fmt.Fprintf(w, "state    %s\nqueued   %s\nduration %s\n", RunState(r), stamp(r.QueuedAtMS), Span(r.StartedAtMS, r.FinishedAtMS))
	if r.Error != "" {
		fmt.Fprintf(w, "error    %s\n", Printable(r.Error))
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.JobID, j.State, Span(j.StartedAtMS, j.FinishedAtMS), exit, outputs, Printable(firstLine(j.Error)))
	}
	tw.Flush()
	if len(rec.ShEvents) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tSEQ\tEXIT\tDURATION\tCMD\tLOG")
		run := root.Run(r.ID)
		for _, e := range rec.ShEvents {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", e.JobID, e.Seq, shExit(e), Span(e.StartedAtMS, e.FinishedAtMS), clip(e.Cmd, 60), run.Job(e.JobID).ShLog(e.Seq))
		}
		tw.Flush()
	}
	if len(rec.Notifications) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NOTIFY\tEVENT\tSTATE\tATTEMPTS\tDURATION\tERROR")
		for _, n := range rec.Notifications {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", clip(n.Target, 60), n.Event, n.State, n.Attempts,
				Span(n.CreatedAtMS, n.FinishedAtMS), cmp.Or(clip(n.Error, 80), "-"))
		}
		tw.Flush()
	}
}

// RunState is a run's state with its failure kind: "failed (job)".
func RunState(r store.Run) string {
	if r.FailureKind != "" {
		return string(r.State) + " (" + string(r.FailureKind) + ")"
	}
	return string(r.State)
}

// stamp is a time in ms since the epoch as local time for a table, or
// "-" for none.
func stamp(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05")
}

// Span is the time between two times in ms since the epoch ("1.5s"), or
// "-" unless both are known.
func Span(from, to int64) string {
	if from == 0 || to == 0 {
		return "-"
	}
	return (time.Duration(to-from) * time.Millisecond).String()
}

// clip shortens s to its first line and at most n bytes, for a table;
// the text is made printable first (see Printable).
func clip(s string, n int) string {
	s = Printable(firstLine(s))
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// Printable makes text that a pusher wrote (a commit message, a ref, an
// error, a command) safe for a terminal: control characters, C1 codes
// included, and bytes that are not UTF-8 are written as escapes (\x1b,
// \u009b, \xff), so no escape sequence reaches the operator's terminal.
// Printable text, tabs excepted (they would break the tables), is kept.
func Printable(s string) string {
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

// firstLine is s up to its first newline, marked " ..." when more
// follows.
func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i] + " ..."
		}
	}
	return s
}

// ShellWord quotes s for a POSIX shell when it holds anything but
// characters safe in a word, so that a command printed for the operator
// (quire-hook logs --git-dir '/srv/my repos/x.git') can be pasted.
func ShellWord(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+:,@%=", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
