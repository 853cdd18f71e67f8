package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// receiver is a webhook endpoint on 127.0.0.1 that checks each POST's
// signature and answers as fail says for the nth attempt.
type receiver struct {
	*httptest.Server
	t    *testing.T
	key  string
	fail func(n int, w http.ResponseWriter, r *http.Request) bool // true: it answered

	mu     sync.Mutex
	bodies [][]byte
	events []string
	bad    []string // what was wrong with a request
}

func newReceiver(t *testing.T, key string, fail func(n int, w http.ResponseWriter, r *http.Request) bool) *receiver {
	rc := &receiver{t: t, key: key, fail: fail}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, body)
		rc.events = append(rc.events, r.Header.Get("X-Quire-Event"))
		n := len(rc.bodies)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			rc.bad = append(rc.bad, r.Method+" "+r.Header.Get("Content-Type"))
		}
		if key != "" {
			mac := hmac.New(sha256.New, []byte(key))
			mac.Write(body)
			if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(r.Header.Get("X-Quire-Signature-256")), []byte(want)) {
				rc.bad = append(rc.bad, "signature "+r.Header.Get("X-Quire-Signature-256"))
			}
		} else if r.Header.Get("X-Quire-Signature-256") != "" {
			rc.bad = append(rc.bad, "a signature without a secret")
		}
		rc.mu.Unlock()
		if fail != nil && fail(n, w, r) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) attempts() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		rc.t.Errorf("bad requests: %q", rc.bad)
	}
	return len(rc.bodies)
}

// hang blocks until the client gives up on the request.
func hang(_ int, _ http.ResponseWriter, r *http.Request) bool {
	<-r.Context().Done()
	return true
}

// redirect answers 307 to every attempt, pointing at url.
func redirect(url string) func(int, http.ResponseWriter, *http.Request) bool {
	return func(_ int, w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, url, http.StatusTemporaryRedirect)
		return true
	}
}

// status answers code to every attempt.
func status(code int) func(int, http.ResponseWriter, *http.Request) bool {
	return func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(code)
		return true
	}
}

// A webhook gets the show --json object plus the event, signed with the
// secret, redacted; it is retried on 5xx, timeouts and refused
// connections up to 3 attempts, not on a 404, and never past the budget.
func TestReporter_Webhook(t *testing.T) {
	f := newFixture(t)
	run := f.record(runSpec{id: "run-webhook", state: store.RunFailed, kind: store.FailJob, errMsg: "job test failed " + secretValue, logLines: 3, subject: "x " + secretValue})
	entry := func(url string, secret string) config.Notify {
		return config.Notify{On: []string{"failed"}, Webhook: url, Secret: secret}
	}

	t.Run("Signed", func(t *testing.T) {
		rc := newReceiver(t, "hmac-key-0123456789", nil)
		f.reporter(entry(rc.URL+"/hooks/ci?token=abc", "hook_hmac")).RunEnded(t.Context(), f.ended(run))
		if n := rc.attempts(); n != 1 {
			t.Fatalf("%d attempts", n)
		}
		body := rc.bodies[0]
		if strings.Contains(string(body), secretValue) {
			t.Errorf("the body holds the secret: %s", body)
		}
		var got struct {
			Event string `json:"event"`
			Run   struct {
				ID    string `json:"id"`
				State string `json:"state"`
				Error string `json:"error"`
			} `json:"run"`
			Jobs     []struct{ JobID, State string } `json:"jobs"`
			ShEvents []json.RawMessage               `json:"sh_events"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body: %v\n%s", err, body)
		}
		if got.Event != "failed" || rc.events[0] != "failed" || got.Run.ID != run.ID || got.Run.State != "failed" ||
			got.Run.Error != "job test failed {{ deploy_token }}" || len(got.Jobs) != 2 || len(got.ShEvents) != 2 {
			t.Errorf("payload: %+v", got)
		}
	})

	t.Run("Unsigned", func(t *testing.T) {
		rc := newReceiver(t, "", nil)
		f.reporter(entry(rc.URL, "")).RunEnded(t.Context(), f.ended(run))
		if n := rc.attempts(); n != 1 {
			t.Fatalf("%d attempts", n)
		}
	})

	t.Run("RecoversOnThirdAttempt", func(t *testing.T) {
		rc := newReceiver(t, "", func(n int, w http.ResponseWriter, _ *http.Request) bool {
			if n < 3 {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
			return false
		})
		f.reporter(entry(rc.URL, "")).RunEnded(t.Context(), f.ended(run))
		if n := rc.attempts(); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
	})

	dead := newReceiver(t, "", nil)
	deadURL := dead.URL + "/gone"
	dead.Close()
	elsewhere := newReceiver(t, "", nil)
	t.Cleanup(func() {
		if n := elsewhere.attempts(); n != 0 {
			t.Errorf("a redirect was followed: the other host got %d requests", n)
		}
	})
	for _, c := range []struct {
		name      string
		rc        *receiver
		url       string
		timeout   time.Duration
		attempts  int
		wantError string
	}{
		{name: "Always500", rc: newReceiver(t, "", status(500)), attempts: 3, wantError: "answered 500 Internal Server Error"},
		{name: "NotFoundIsFinal", rc: newReceiver(t, "", status(404)), attempts: 1, wantError: "answered 404 Not Found"},
		{name: "Timeout", rc: newReceiver(t, "", hang), timeout: 50 * time.Millisecond, attempts: 3, wantError: "no answer within 50ms"},
		{name: "Refused", url: deadURL, attempts: 3, wantError: "connection refused"},
		// A redirect would re-send the body and its signature to
		// wherever it points: it is a final failure, not followed.
		{name: "RedirectNotFollowed", rc: newReceiver(t, "", redirect(elsewhere.URL)), attempts: 1, wantError: "redirects are not followed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := c.url
			if c.rc != nil {
				url = c.rc.URL + "/secret-path"
			}
			rep := f.reporter(entry(url, ""))
			rep.AttemptTimeout = c.timeout
			before := len(f.notifications(run.ID))
			rep.RunEnded(t.Context(), f.ended(run))
			if c.rc != nil {
				if n := c.rc.attempts(); n != c.attempts {
					t.Errorf("the receiver saw %d attempts, want %d", n, c.attempts)
				}
			}
			rows := f.notifications(run.ID)[before:]
			if len(rows) != 1 || rows[0].State != store.NotificationFailed || rows[0].Attempts != c.attempts ||
				!strings.Contains(rows[0].Error, c.wantError) || strings.Contains(rows[0].Error, "secret-path") || strings.Contains(rows[0].Target, "gone") {
				t.Errorf("rows: %+v", rows)
			}
		})
	}

	// The budget bounds all deliveries of a run: a target that never
	// answers gets fewer attempts than it would, and the others still
	// get theirs.
	t.Run("Budget", func(t *testing.T) {
		slow := newReceiver(t, "", hang)
		fine := newReceiver(t, "", nil)
		rep := f.reporter(entry(slow.URL, ""), entry(fine.URL, ""))
		rep.Budget = 2 * time.Second // the good target's delivery fits on a busy machine
		rep.Backoff = time.Hour      // a retry would have to wait past the budget
		before := len(f.notifications(run.ID))
		rep.RunEnded(t.Context(), f.ended(run))
		if n := slow.attempts(); n != 1 {
			t.Errorf("the hanging target got %d attempts within the budget, want 1", n)
		}
		if n := fine.attempts(); n != 1 {
			t.Errorf("the good target got %d attempts", n)
		}
		rows := f.notifications(run.ID)[before:]
		states := map[store.NotificationState]int{}
		for _, r := range rows {
			states[r.State]++
		}
		if len(rows) != 2 || states[store.NotificationDelivered] != 1 || states[store.NotificationFailed] != 1 {
			t.Errorf("rows: %+v", rows)
		}
	})

	t.Run("HTTPOnly", func(t *testing.T) {
		// config refuses other schemes; a Reporter given one anyway
		// records the failure.
		before := len(f.notifications(run.ID))
		f.reporter(entry("file:///etc/passwd", "")).RunEnded(t.Context(), f.ended(run))
		rows := f.notifications(run.ID)[before:]
		if len(rows) != 1 || rows[0].State != store.NotificationFailed {
			t.Errorf("rows: %+v", rows)
		}
	})
}

// A command gets the payload on stdin and the hook's environment
// without the variables that hold a secret; its argv is config.lua's.
func TestReporter_Command(t *testing.T) {
	f := newFixture(t)
	run := f.record(runSpec{id: "run-command", state: store.RunComplete})
	dir := t.TempDir()
	cmd := script(t, `cat > "`+dir+`/stdin"; env > "`+dir+`/env"; printf '%s\n' "$@" > "`+dir+`/args"`)
	f.reporter(config.Notify{On: []string{"always"}, Command: []string{cmd, "--quiet"}}).RunEnded(t.Context(), f.ended(run))

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		must(t, err)
		return string(b)
	}
	var got Payload
	if err := json.Unmarshal([]byte(read("stdin")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Event != "always" || got.Run.ID != run.ID || got.Run.State != store.RunComplete || len(got.Jobs) != 2 || got.Notifications == nil {
		t.Errorf("stdin: %+v", got)
	}
	env := read("env")
	if strings.Contains(env, secretValue) || !strings.Contains(env, "KEEP_ME=1") || !strings.Contains(env, "QUIRE_NOTIFY_EVENT=always") ||
		!strings.Contains(env, "QUIRE_RUN_ID="+run.ID) {
		t.Errorf("env:\n%s", env)
	}
	if a := read("args"); a != "--quiet\n" {
		t.Errorf("args %q", a)
	}
	rows := f.notifications(run.ID)
	if len(rows) != 1 || rows[0].State != store.NotificationDelivered || rows[0].Target != "command "+cmd {
		t.Errorf("rows: %+v", rows)
	}
}
