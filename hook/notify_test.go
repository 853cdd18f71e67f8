package hook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	notifySecret = "dep-7f6e5d4c3b2a1908"
	notifyHMAC   = "hmac-0a1b2c3d4e5f6789"
)

// notifyPipeline fails job test unless the file state says pass; its
// log ends with 30 numbered lines and shows the secret on the way.
const notifyPipeline = `local ci = require("quire.ci")
ci.job("test", {"quire/push"}, function(q)
  local tok = q.secret("deploy")
  q.sh('echo "using ' .. tok .. '"; i=1; while [ $i -le 30 ]; do echo "test line $i"; i=$((i+1)); done; test "$(cat state)" = pass', {check = true})
end)
`

// hookReceiver is a webhook endpoint that checks the signature and keeps
// each event and body.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []string
	bodies []string
	bad    []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(notifyHMAC))
		mac.Write(body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if got := r.Header.Get("X-Quire-Signature-256"); got != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			h.bad = append(h.bad, "signature "+got)
		}
		h.events = append(h.events, r.Header.Get("X-Quire-Event"))
		h.bodies = append(h.bodies, string(body))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) got() (events, bodies, bad []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events), slices.Clone(h.bodies), slices.Clone(h.bad)
}

// setupNotify writes config.lua with an email entry (failed, fixed)
// through a sendmail stand-in that stores messages in the returned
// directory, and a signed webhook entry (always) to url.
func setupNotify(t *testing.T, r *repo, url string) (mails string) {
	t.Helper()
	mails = t.TempDir()
	sendmail := filepath.Join(t.TempDir(), "sendmail")
	writeConfig(t, sendmail, "#!/bin/sh\nn=$$\ncat > \""+mails+"/mail.$n\"\nenv > \""+mails+"/env.$n\"\n")
	if err := os.Chmod(sendmail, 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"), `return {
  secrets = { deploy = "`+notifySecret+`", hook_hmac = "`+notifyHMAC+`" },
  notify = {
    { on = {"failed", "fixed"}, email = "ops@example.com" },
    { on = {"always"}, webhook = "`+url+`/hooks/ci", secret = "hook_hmac" },
  },
  sendmail = {"`+sendmail+`", "-t", "-i"},
}`)
	r.Env = append(r.Env, "DEPLOY_TOKEN="+notifySecret)
	r.Pipeline(notifyPipeline)
	return mails
}

// readMails parses the messages the sendmail stand-in stored.
func readMails(t *testing.T, dir string) []*mail.Message {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var out []*mail.Message
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "mail.") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), notifySecret) {
			t.Errorf("mail %s holds the secret", e.Name())
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("parse %s: %v\n%s", e.Name(), err, b)
		}
		out = append(out, m)
	}
	return out
}

func mailBody(t *testing.T, m *mail.Message) string {
	t.Helper()
	b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Real pushes: a failing push mails ops and calls the webhook, the push
// that fixes it mails "fixed", the next passing push mails no one; the
// webhook hears of every run; show and show --json list the deliveries.
func TestNotify_PushesMailAndWebhook(t *testing.T) {
	r := newRepo(t)
	rc := newHookReceiver(t)
	mails := setupNotify(t, r, rc.URL)

	r.Write("state", "fail\n")
	r.Commit("break the build")
	out := r.push()
	wantContains(t, out, "notified email ops@example.com (failed)")
	wantContains(t, out, "notified webhook "+rc.URL+"/… (always)")
	failed, _, _ := r.lastRun()
	if failed.State != "failed" {
		t.Fatalf("run %s: %s", failed.ID, failed.State)
	}
	if strings.Contains(out, notifySecret) {
		t.Errorf("the push shows the secret:\n%s", out)
	}

	ms := readMails(t, mails)
	if len(ms) != 1 {
		t.Fatalf("%d mails after the failing push", len(ms))
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(ms[0].Header.Get("Subject"))
	if want := "[quire] " + failed.Repo + " refs/heads/main: failed (job test)"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	if to := ms[0].Header.Get("To"); to != "<ops@example.com>" && to != "ops@example.com" {
		t.Errorf("To %q", to)
	}
	body := mailBody(t, ms[0])
	for _, s := range []string{"run      " + failed.ID, "commit   " + failed.SHA, "break the build", "test  failed",
		"  test line 30", "  test line 12", "show " + failed.ID, "logs " + failed.ID} {
		wantContains(t, body, s)
	}
	if strings.Contains(body, "test line 10\r\n") {
		t.Errorf("the mail shows more than 20 log lines:\n%s", body)
	}
	envs, _ := filepath.Glob(filepath.Join(mails, "env.*"))
	for _, p := range envs {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), notifySecret) {
			t.Errorf("sendmail's environment holds the secret")
		}
	}

	r.Write("state", "pass\n")
	r.Commit("fix the build")
	out = r.push()
	wantContains(t, out, "notified email ops@example.com (fixed)")
	r.Write("other", "x\n")
	r.Commit("another change")
	out = r.push()
	if strings.Contains(out, "notified email") {
		t.Errorf("a second passing push mailed:\n%s", out)
	}
	last, _, _ := r.lastRun()

	ms = readMails(t, mails)
	var subjects []string
	for _, m := range ms {
		s, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		subjects = append(subjects, s)
	}
	slices.Sort(subjects)
	want := []string{"[quire] " + failed.Repo + " refs/heads/main: failed (job test)", "[quire] " + failed.Repo + " refs/heads/main: fixed"}
	if !slices.Equal(subjects, want) {
		t.Errorf("mails %q, want %q", subjects, want)
	}

	events, bodies, bad := rc.got()
	if len(bad) > 0 {
		t.Errorf("bad webhook requests: %q", bad)
	}
	if !slices.Equal(events, []string{"always", "always", "always"}) {
		t.Errorf("webhook events %q", events)
	}
	var payload struct {
		Event string `json:"event"`
		Run   struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &payload); err != nil || payload.Event != "always" || payload.Run.ID != failed.ID || payload.Run.State != "failed" {
		t.Errorf("first payload %+v, %v", payload, err)
	}

	// show --json and show list the failed run's deliveries.
	out, code := r.quire("", "--git-dir", r.Bare, "show", failed.ID, "--json")
	if code != 0 {
		t.Fatalf("show --json: exit %d\n%s", code, out)
	}
	var rec struct {
		Notifications []struct {
			Target, Event, State string
			Attempts             int
			Error                *string
		} `json:"notifications"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if len(rec.Notifications) != 2 {
		t.Fatalf("notifications %+v", rec.Notifications)
	}
	for _, n := range rec.Notifications {
		if n.State != "delivered" || n.Attempts != 1 || n.Error != nil {
			t.Errorf("notification %+v", n)
		}
	}
	out, _ = r.quire("", "--git-dir", r.Bare, "show", failed.ID)
	wantContains(t, out, "NOTIFY")
	for _, s := range []string{"NOTIFY", "EVENT", "email ops@example.com", "webhook " + rc.URL + "/…", "always", "delivered"} {
		wantContains(t, out, s)
	}
	out, _ = r.quire("", "--git-dir", r.Bare, "show", last.ID, "--json")
	rec.Notifications = nil
	if err := json.Unmarshal([]byte(out), &rec); err != nil || len(rec.Notifications) != 1 || rec.Notifications[0].Event != "always" {
		t.Errorf("the last run's notifications: %+v, %v", rec.Notifications, err)
	}
}

// A webhook nobody answers costs the push its attempts, one warning and
// a failed row; the run stays complete and the push succeeds.
func TestNotify_DeadTargetChangesNothing(t *testing.T) {
	r := newRepo(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	setupNotify(t, r, url)
	r.Write("state", "pass\n")
	r.Commit("pass")
	out := r.push()
	run, _, _ := r.lastRun()
	if run.State != "complete" {
		t.Fatalf("run %s: %s (%s)", run.ID, run.State, run.Error)
	}
	wantContains(t, out, "warning: notify webhook "+url+"/… (always) failed after 3 attempts:")
	wantContains(t, out, "connection refused")
	rows, err := r.records().ListNotifications(t.Context(), run.ID)
	if err != nil || len(rows) != 1 || rows[0].State != "failed" || rows[0].Attempts != 3 {
		t.Errorf("rows %+v, %v", rows, err)
	}
}

// An async push delivers from the background worker: the push returns
// before its run ends, and the mail and the row come later.
func TestNotify_Async(t *testing.T) {
	r := newRepo(t)
	rc := newHookReceiver(t)
	mails := setupNotify(t, r, rc.URL)
	r.Git(r.Bare, "config", "quire.async", "true")
	r.Write("state", "fail\n")
	r.Commit("break it in the background")
	out := r.push()
	wantContains(t, out, "runs in the background")
	if strings.Contains(out, "notified") {
		t.Errorf("the async push itself notified:\n%s", out)
	}
	var run = r.runs()[0]
	waitFor(t, "the async run's notifications", func() bool {
		rows, err := r.records().ListNotifications(t.Context(), run.ID)
		return err == nil && len(rows) == 2
	})
	if ms := readMails(t, mails); len(ms) != 1 {
		t.Errorf("%d mails, want 1", len(ms))
	}
	if events, _, bad := rc.got(); !slices.Equal(events, []string{"always"}) || len(bad) > 0 {
		t.Errorf("webhook: %q, bad %q", events, bad)
	}
	log, _ := os.ReadFile(filepath.Join(r.Bare, "quire", "async.log"))
	wantContains(t, string(log), "notified email ops@example.com (failed)")
}
