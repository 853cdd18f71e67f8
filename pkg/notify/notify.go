// Package notify tells people and programs of a run's result (SPEC §13):
// a runner.Reporter that decides which of config.lua's notify entries a
// run that ended concerns (failed, fixed, complete, always), builds the
// message, and delivers it by mail through the sendmail command, by
// webhook (a signed HTTP POST) or to a command's stdin. Each delivery is
// a row of the notifications table. Everything that leaves the box is
// redacted with the run's secrets; a delivery that fails is one progress
// line and a row, never a change to the run or the hook's exit status,
// and all deliveries of a run together take at most Budget.
package notify

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/redact"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// Defaults for the Reporter's bounds (SPEC §13).
const (
	// DefaultBudget bounds all deliveries of one run together: a dead
	// target cannot hold a push longer.
	DefaultBudget = 35 * time.Second
	// DefaultAttemptTimeout bounds one attempt: one HTTP request, or
	// one run of the sendmail or notify command.
	DefaultAttemptTimeout = 10 * time.Second
	// DefaultBackoff is the wait before a webhook's second attempt; it
	// doubles before each further one.
	DefaultBackoff = time.Second
	// Attempts is how many times a webhook is tried.
	Attempts = 3
)

// Reporter delivers the results of runs to config.lua's notify targets.
// The zero value of each bound means its default.
type Reporter struct {
	Store    *store.Store
	Notify   []config.Notify
	Sendmail []string                 // nil: config.DefaultSendmail
	Secrets  map[string]config.Secret // the declared secrets, for webhook signatures
	// Env is the hook's environment; a command target and sendmail get
	// it without the variables that hold a secret.
	Env []string
	// URL is the web address of the run pages (git config quire.url),
	// or "": a message then points to the commands only.
	URL string
	// Host names this machine in From and Message-ID; "" is
	// os.Hostname.
	Host string

	Budget         time.Duration
	AttemptTimeout time.Duration
	Backoff        time.Duration
}

var _ runner.Reporter = (*Reporter)(nil)

// RunEnded delivers the result of the run e to every notify entry that
// follows one of its events, all at once, within Budget.
func (r *Reporter) RunEnded(ctx context.Context, e runner.Ended) {
	if len(r.Notify) == 0 {
		return
	}
	events, err := r.Events(ctx, e.Run)
	if err != nil {
		e.Progress.Failf("warning: notify: %v", err)
		return
	}
	if len(events) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, or(r.Budget, DefaultBudget))
	defer cancel()
	rec, err := report.Load(ctx, r.Store, e.Run.ID)
	if err != nil {
		e.Progress.Failf("warning: notify: read run %s: %v", e.Run.ID, err)
		return
	}
	secrets := r.redactor(e.Secrets)
	var wg sync.WaitGroup
	for _, n := range r.Notify {
		event := match(n, events)
		if event == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.deliver(ctx, e, rec, secrets, n, event)
		}()
	}
	wg.Wait()
}

// Events returns the events a run that ended makes, most specific
// first: a failed run (timeout included) makes failed and always; a
// complete one complete and always, and fixed first when the run of its
// repo and ref that finished before it failed. Superseded and canceled
// runs make none.
func (r *Reporter) Events(ctx context.Context, run store.Run) ([]string, error) {
	switch {
	case run.State == store.RunFailed && run.FailureKind != store.FailCanceled:
		return []string{config.EventFailed, config.EventAlways}, nil
	case run.State != store.RunComplete:
		return nil, nil
	}
	prev, ok, err := r.Store.PreviousOutcome(ctx, run)
	if err != nil {
		return nil, err
	}
	if ok && prev.State == store.RunFailed {
		return []string{config.EventFixed, config.EventComplete, config.EventAlways}, nil
	}
	return []string{config.EventComplete, config.EventAlways}, nil
}

// match is the first of events that n follows, or "".
func match(n config.Notify, events []string) string {
	for _, ev := range events {
		if n.Follows(ev) {
			return ev
		}
	}
	return ""
}

// outcome is the attempts a delivery made and how the last one ended.
type outcome struct {
	attempts int
	err      error
}

// deliver sends one message and records it.
func (r *Reporter) deliver(ctx context.Context, e runner.Ended, rec report.Record, secrets *redaction, n config.Notify, event string) {
	created := time.Now()
	var o outcome
	switch {
	case len(n.Email) > 0:
		o = r.email(ctx, e, rec, secrets, n, event)
	case n.Webhook != "":
		o = r.webhook(ctx, e, rec, secrets, n, event)
	case len(n.Command) > 0:
		o = r.command(ctx, e, rec, secrets, n, event)
	default:
		return
	}
	row := store.Notification{
		RunID: e.Run.ID, Target: secrets.String(n.Target()), Event: event, State: store.NotificationDelivered,
		Attempts: o.attempts, CreatedAtMS: created.UnixMilli(), FinishedAtMS: time.Now().UnixMilli(),
	}
	if o.err != nil {
		row.State, row.Error = store.NotificationFailed, secrets.String(o.err.Error())
		e.Progress.Failf("warning: notify %s (%s) failed after %d attempt%s: %s", row.Target, event, o.attempts, plural(o.attempts), row.Error)
	} else {
		e.Progress.Infof("notified %s (%s)", row.Target, event)
	}
	// The row outlives the budget: a delivery cut short is recorded too.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := r.Store.AddNotification(rctx, row); err != nil {
		e.Progress.Failf("warning: %v", err)
	}
}

// redaction is the run's secrets and the operator's plain ones: what
// leaves the box shows neither.
type redaction struct {
	run, declared *redact.Set
}

func (r *Reporter) redactor(run *redact.Set) *redaction {
	declared := new(redact.Set)
	for name, s := range r.Secrets {
		if s.Value != "" {
			_ = declared.Add(name, s.Value) // config checked the length
		}
	}
	return &redaction{run: run, declared: declared}
}

// String redacts s.
func (x *redaction) String(s string) string { return x.declared.String(x.run.String(s)) }

// JSON redacts JSON text, keeping it valid.
func (x *redaction) JSON(s string) string { return x.declared.JSON(x.run.JSON(s)) }

// holds reports whether s shows a secret.
func (x *redaction) holds(s string) bool { return x.String(s) != s }

// env is the hook's environment without the variables that hold a
// secret, plus what a notify command is told of the run.
func (r *Reporter) env(secrets *redaction, extra ...string) []string {
	out := make([]string, 0, len(r.Env)+len(extra))
	for _, kv := range r.Env {
		if !secrets.holds(kv) {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// host is this machine's name for From and Message-ID, cut to what a
// mail domain may hold.
func (r *Reporter) host() string {
	h := r.Host
	if h == "" {
		h, _ = os.Hostname()
	}
	h = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			return c
		}
		return -1
	}, h)
	h = strings.Trim(h, ".-")
	if h == "" {
		return "localhost"
	}
	return h
}

// secretValue reads the value of the declared secret name.
func (r *Reporter) secretValue(name string) (string, error) {
	s, ok := r.Secrets[name]
	if !ok {
		return "", fmt.Errorf("secret %q is not declared in config.lua", name)
	}
	if s.File == "" {
		return s.Value, nil
	}
	b, err := os.ReadFile(s.File)
	if err != nil {
		return "", fmt.Errorf("read secret %q: %w", name, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// failedJobs are the ids of the record's failed jobs, in order.
func failedJobs(rec report.Record) []string {
	var ids []string
	for _, j := range rec.Jobs {
		if j.State == store.JobFailed {
			ids = append(ids, j.JobID)
		}
	}
	return ids
}

// outcomeText is how a run ended, as a subject says it: "failed (job
// test)", "failed (timeout)", "complete", "fixed".
func outcomeText(rec report.Record, event string) string {
	r := rec.Run
	switch {
	case event == config.EventFixed:
		return "fixed"
	case r.State != store.RunFailed:
		return string(r.State)
	case r.FailureKind == store.FailJob:
		if jobs := failedJobs(rec); len(jobs) > 0 {
			return fmt.Sprintf("failed (job %s)", strings.Join(jobs, ", "))
		}
	}
	if r.FailureKind == "" {
		return "failed"
	}
	return fmt.Sprintf("failed (%s)", r.FailureKind)
}
