package notify

import (
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// sendmail returns a sendmail stand-in that stores each message it
// reads, its argv and its environment in dir.
func sendmail(t *testing.T, dir string) []string {
	return []string{script(t, `n=$$
cat > "`+dir+`/mail.$n"
printf '%s\n' "$@" > "`+dir+`/args.$n"
env > "`+dir+`/env.$n"
`), "-t", "-i"}
}

// A failed run's mail is a well-formed message: its headers parse with
// net/mail, hostile text in the ref, author and commit message adds no
// header, non-ASCII is encoded, and the quoted-printable body holds the
// run, the jobs, the last 20 lines of the failing log and the commands
// to read more, with the run's secret redacted everywhere.
func TestReporter_Email(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	run := f.record(runSpec{
		id: "0192a0b0-0000-7000-8000-000000000001", state: store.RunFailed, kind: store.FailJob,
		ref:     "refs/heads/zoë\r\nBcc: evil@attacker.example",
		author:  "Zoë Q\r\nBcc: evil2@attacker.example <zoe@example.com>",
		subject: "fix: ünïcode\r\nX-Injected: yes",
		errMsg:  "job test failed; token " + secretValue, logLines: 30,
	})
	rep := f.reporter(config.Notify{On: []string{"failed"}, Email: []string{"ops@example.com", "Ops Team <team@example.com>"}})
	rep.Sendmail = sendmail(t, dir)
	rep.URL = "https://ci.example/"
	e := f.ended(run)
	e.GitDir = "/srv/git/team/app.git"
	rep.RunEnded(t.Context(), e)

	mails := files(t, dir, "mail.")
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1; progress:\n%s", len(mails), f.out.String())
	}
	raw := mails[0]
	if strings.Contains(raw, secretValue) {
		t.Error("the mail holds the secret")
	}
	for _, l := range strings.Split(raw, "\r\n") {
		if len(l) > 998 {
			t.Errorf("a line of %d bytes", len(l))
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("parse the mail: %v\n%s", err, raw)
	}
	h := msg.Header
	var names []string
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To", "X-Quire-Event", "X-Quire-Run"}
	if !slices.Equal(names, want) {
		t.Errorf("headers %q, want %q (no injected ones)", names, want)
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "quire-hook@ci.example" {
		t.Errorf("From %q: %v, %v", h.Get("From"), from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != "ops@example.com" || to[1].Name != "Ops Team" || to[1].Address != "team@example.com" {
		t.Errorf("To %q: %v, %v", h.Get("To"), to, err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[quire] team/app.git refs/heads/zoë  Bcc: evil@attacker.example: failed (job test)"; subject != want {
		t.Errorf("Subject %q, want %q", subject, want)
	}
	if strings.Contains(h.Get("Subject"), "ë") {
		t.Errorf("Subject header %q is not ASCII", h.Get("Subject"))
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<"+run.ID+".failed.") || !strings.HasSuffix(id, "@ci.example>") {
		t.Errorf("Message-ID %q", id)
	}
	if h.Get("Mime-Version") != "1.0" || h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("MIME headers: %v", h)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	for _, s := range []string{
		"run      " + run.ID, "commit   " + run.SHA, "author   Zoë Q\\x0d\\x0aBcc", "    fix: ünïcode\\x0d\r\n    X-Injected: yes\r\n",
		"build  complete  1.498s", "test   failed    2.5s  exit 2",
		"last lines of job test, sh call 2 (go test ./...):", "  log line 11\r\n", "log line 30 token={{ deploy_token }}",
		"quire-hook --git-dir /srv/git/team/app.git show " + run.ID, "quire-hook --git-dir /srv/git/team/app.git logs " + run.ID,
		"https://ci.example/runs/" + run.ID, "job test failed; token {{ deploy_token }}",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "log line 10") {
		t.Errorf("body shows more than the last %d lines:\n%s", TailLines, body)
	}

	// sendmail's argv and environment hold no secret.
	args := files(t, dir, "args.")[0]
	if args != "-t\n-i\n" {
		t.Errorf("sendmail argv %q", args)
	}
	env := files(t, dir, "env.")[0]
	if strings.Contains(env, secretValue) || !strings.Contains(env, "KEEP_ME=1") {
		t.Errorf("sendmail environment:\n%s", env)
	}

	rows := f.notifications(run.ID)
	if len(rows) != 1 || rows[0].State != store.NotificationDelivered || rows[0].Attempts != 1 || rows[0].Event != "failed" ||
		rows[0].Target != "email ops@example.com, Ops Team <team@example.com>" {
		t.Errorf("rows: %+v", rows)
	}
}

// A sendmail that fails is one warning line and a failed row; one that
// hangs is killed at the attempt's bound, with its children.
func TestReporter_EmailFails(t *testing.T) {
	f := newFixture(t)
	run := f.record(runSpec{id: "run-fails", state: store.RunFailed, kind: store.FailTimeout, errMsg: "run exceeded its 1s timeout"})
	rep := f.reporter(config.Notify{On: []string{"failed"}, Email: []string{"ops@example.com"}})
	rep.Sendmail = []string{script(t, "cat >/dev/null; echo 'sendmail: cannot connect to "+secretValue+"' >&2; exit 75")}
	rep.RunEnded(t.Context(), f.ended(run))

	// Its child keeps stderr open: killing the group ends both.
	rep.Sendmail = []string{script(t, "sleep 30 & sleep 30")}
	rep.AttemptTimeout = 200 * time.Millisecond
	rep.RunEnded(t.Context(), f.ended(run))

	rows := f.notifications(run.ID)
	if len(rows) != 2 {
		t.Fatalf("rows: %+v", rows)
	}
	if r := rows[0]; r.State != store.NotificationFailed || r.Attempts != 1 ||
		!strings.HasPrefix(r.Error, "sendmail /") || !strings.HasSuffix(r.Error, ": exit status 75: sendmail: cannot connect to {{ deploy_token }}") {
		t.Errorf("failing sendmail: %+v", r)
	}
	if r := rows[1]; r.State != store.NotificationFailed || !strings.Contains(r.Error, "did not finish within 200ms") {
		t.Errorf("hanging sendmail: %+v", r)
	}
	out := f.out.String()
	if strings.Count(out, "warning: notify email ops@example.com (failed) failed after 1 attempt:") != 2 || strings.Contains(out, secretValue) {
		t.Errorf("progress:\n%s", out)
	}
}

// The commit message comes from git (or the run's subject), not from a
// redacted record; a secret in it holding a tab is redacted before the
// tab is cleaned away, or it would no longer match.
func TestReporter_EmailRedactsBeforeCleaning(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	const tabbed = "tab\tsecret-with-a-tab"
	run := f.record(runSpec{
		id: "0192a0b0-0000-7000-8000-000000000009", state: store.RunFailed, kind: store.FailJob,
		ref: "refs/heads/main", subject: "deploy " + tabbed,
	})
	rep := f.reporter(config.Notify{On: []string{"failed"}, Email: []string{"ops@example.com"}})
	rep.Sendmail = sendmail(t, dir)
	e := f.ended(run)
	must(t, e.Secrets.Add("tabbed", tabbed))
	rep.RunEnded(t.Context(), e)
	mails := files(t, dir, "mail.")
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1; progress:\n%s", len(mails), f.out.String())
	}
	if strings.Contains(mails[0], "secret-with-a-tab") {
		t.Errorf("the mail holds the tabbed secret:\n%s", mails[0])
	}
}
