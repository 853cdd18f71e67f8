package notify

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// TailLines is how many lines of the failing sh call's log a mail shows.
const TailLines = 20

// maxLogLine bounds one log line in a mail.
const maxLogLine = 500

// email sends the result through the sendmail command, once.
func (r *Reporter) email(ctx context.Context, e runner.Ended, rec report.Record, secrets *redaction, n config.Notify, event string) outcome {
	msg := r.mail(e, rec, secrets.String, n, event, time.Now())
	argv := r.Sendmail
	if len(argv) == 0 {
		argv = config.DefaultSendmail
	}
	err := r.runCommand(ctx, argv, msg, r.env(secrets))
	if err != nil {
		err = fmt.Errorf("sendmail %s: %w", argv[0], err)
	}
	return outcome{attempts: 1, err: err}
}

// mail builds the RFC 5322 message of the run rec for the email entry
// n: plain text in UTF-8, quoted-printable, every header on one line
// with non-ASCII text encoded (RFC 2047) and line breaks removed, so no
// commit message, ref or author name can add a header. redact is
// applied to every text of the run.
func (r *Reporter) mail(e runner.Ended, rec report.Record, redact func(string) string, n config.Notify, event string, now time.Time) []byte {
	run := rec.Run
	host := r.host()
	from := "quire-hook@" + host
	if n.From != "" {
		from = n.From
	}
	var to []string
	for _, a := range n.Email {
		to = append(to, address(a))
	}
	subject := fmt.Sprintf("[quire] %s %s: %s", run.Repo, run.Ref, outcomeText(rec, event))

	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", address(from))
	header("To", strings.Join(to, ", "))
	header("Subject", headerText(redact(subject), 200))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", fmt.Sprintf("<%s.%s.%d@%s>", run.ID, event, now.UnixNano(), host))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	header("X-Quire-Event", event)
	header("X-Quire-Run", run.ID)
	b.WriteString("\r\n")

	body := strings.ReplaceAll(redact(r.mailBody(e, rec, redact, event)), "\n", "\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(body))
	_ = qp.Close()
	return b.Bytes()
}

// mailBody is the text of a mail: what ran, how each job ended, the end
// of the failing log, and the commands that show more.
func (r *Reporter) mailBody(e runner.Ended, rec report.Record, redact func(string) string, event string) string {
	run := rec.Run
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s of %s %s: %s.\n", run.ID, clean(run.Repo), clean(run.Ref), outcomeText(rec, event))
	if run.Error != "" {
		fmt.Fprintf(&b, "%s\n", clean(run.Error))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "run      %s\n", run.ID)
	fmt.Fprintf(&b, "commit   %s\n", run.SHA)
	fmt.Fprintf(&b, "author   %s\n", or2(clean(run.Author), "-"))
	if run.Pusher != "" {
		fmt.Fprintf(&b, "pusher   %s\n", clean(run.Pusher))
	}
	fmt.Fprintf(&b, "trigger  %s\n", run.Trigger)
	fmt.Fprintf(&b, "duration %s\n", report.Span(run.StartedAtMS, run.FinishedAtMS))
	b.WriteString("\n")
	// The message comes fresh from git, not from a redacted record: it is
	// redacted whole before its lines are cleaned, or a secret holding a
	// tab or a control character would no longer match.
	for _, l := range strings.Split(strings.TrimRight(redact(commitMessage(e.GitDir, run)), "\n"), "\n") {
		fmt.Fprintf(&b, "    %s\n", clean(l))
	}
	if len(rec.Jobs) > 0 {
		b.WriteString("\njobs:\n")
		w := 0
		for _, j := range rec.Jobs {
			w = max(w, len(j.JobID))
		}
		for _, j := range rec.Jobs {
			line := fmt.Sprintf("  %-*s  %-8s  %s", w, j.JobID, j.State, report.Span(j.StartedAtMS, j.FinishedAtMS))
			if j.ExitCode != nil && *j.ExitCode != 0 {
				line += fmt.Sprintf("  exit %d", *j.ExitCode)
			}
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	if sh, ok := failingCall(rec); ok {
		path := datadir.Root(e.DataRoot).Run(run.ID).Job(sh.JobID).ShLog(sh.Seq)
		lines, err := crilog.Tail(path, TailLines, maxLogLine)
		fmt.Fprintf(&b, "\nlast lines of job %s, sh call %d (%s):\n", sh.JobID, sh.Seq, clean(sh.Cmd))
		if err != nil {
			fmt.Fprintf(&b, "  (the log could not be read: %v)\n", err)
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", clean(string(l.Content)))
		}
	}
	cmd := "quire-hook"
	if e.GitDir != "" {
		cmd += " --git-dir " + report.ShellWord(e.GitDir)
	}
	fmt.Fprintf(&b, "\nmore on the server:\n  %s show %s\n  %s logs %s\n", cmd, run.ID, cmd, run.ID)
	if r.URL != "" {
		fmt.Fprintf(&b, "  %s/runs/%s\n", strings.TrimRight(r.URL, "/"), run.ID)
	}
	return b.String()
}

// failingCall is the sh call whose log a mail shows: the last one of
// the first failed job that failed (or has no exit: its run ended during
// it), else that job's last call.
func failingCall(rec report.Record) (store.ShEvent, bool) {
	jobs := failedJobs(rec)
	if len(jobs) == 0 {
		for _, j := range rec.Jobs {
			if j.State == store.JobAborted {
				jobs = append(jobs, j.JobID)
			}
		}
	}
	if len(jobs) == 0 {
		return store.ShEvent{}, false
	}
	var last, failing store.ShEvent
	for _, sh := range rec.ShEvents {
		if sh.JobID != jobs[0] {
			continue
		}
		last = sh
		if sh.NoExit || sh.ExitCode != 0 {
			failing = sh
		}
	}
	if failing.Seq > 0 {
		return failing, true
	}
	return last, last.Seq > 0
}

// commitMessage is the run's commit message from the repository, else
// its subject as recorded.
func commitMessage(gitDir string, run store.Run) string {
	if gitDir != "" && plumbing.IsHash(run.SHA) {
		if repo, err := gitrepo.Open(gitDir); err == nil {
			if c, err := repo.Commit(plumbing.NewHash(run.SHA)); err == nil {
				return c.Message
			}
		}
	}
	return run.Subject
}

// address formats one mail address for a header, its name encoded
// (RFC 2047); text that is not an address becomes its printable part.
func address(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.String()
	}
	return headerText(s, 200)
}

// headerText makes s safe as one header's value: line breaks and other
// control characters become spaces, invalid UTF-8 is replaced, the
// text is cut to at most max runes, and non-ASCII is encoded (RFC 2047).
func headerText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 || c == '\u2028' || c == '\u2029' {
			return ' '
		}
		return c
	}, s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return mime.QEncoding.Encode("utf-8", s)
}

// clean makes one line of text a pusher wrote safe for a mail body read
// in a terminal: control characters and invalid bytes become escapes
// (report.Printable), tabs as spaces.
func clean(s string) string {
	return report.Printable(strings.ReplaceAll(s, "\t", "    "))
}

func or2(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
