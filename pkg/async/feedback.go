package async

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// MaxFeedback is how many outcomes Feedback prints at most; it counts
// the older ones in one line that names the command to list them.
const MaxFeedback = 10

// Feedback writes to w, as "quire: " lines, the outcome of each async run
// of repo that ended since a push last printed it (SPEC §13), newest
// last, and records them printed at atMS. Nobody watched those runs: the
// next async push is where their pusher learns of them. The lines go out
// in one write before the store records them printed, in the
// transaction that selected them: a concurrent push prints none of
// them, and when the write fails, or the hook dies before the commit,
// the next push prints them again. cmd is how the lines name the
// quire-hook command to run on the server (quire-hook --git-dir X).
func Feedback(ctx context.Context, s *store.Store, repo, cmd string, w io.Writer, atMS int64) error {
	return s.ReportOutcomes(ctx, repo, MaxFeedback, atMS, func(outcomes []store.Outcome, more int) error {
		var b bytes.Buffer
		for _, o := range outcomes {
			r := o.Run
			fmt.Fprintf(&b, "quire: earlier run %s %s at %s: %s — %s logs %s\n",
				r.ID, report.Printable(r.Ref), gitrepo.ShortSHA(r.SHA), outcome(o), cmd, r.ID)
		}
		if more > 0 {
			fmt.Fprintf(&b, "quire: and %d more: %s runs --repo %s\n", more, cmd, report.ShellWord(report.Printable(repo)))
		}
		_, err := w.Write(b.Bytes())
		return err
	})
}

// outcome says how a run ended: "complete", "failed (job test)",
// "failed (timeout)", "superseded".
func outcome(o store.Outcome) string {
	r := o.Run
	switch {
	case r.State == store.RunFailed && r.FailureKind == store.FailJob && len(o.FailedJobs) > 0:
		jobs := make([]string, len(o.FailedJobs))
		for i, j := range o.FailedJobs {
			jobs[i] = report.Printable(j)
		}
		word := "job"
		if len(jobs) > 1 {
			word = "jobs"
		}
		return "failed (" + word + " " + strings.Join(jobs, ", ") + ")"
	case r.State == store.RunSuperseded:
		return string(r.State)
	}
	return report.RunState(r)
}
