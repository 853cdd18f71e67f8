package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/runner"
)

// Payload is what a webhook and a notify command receive: the object
// `show --json` prints (docs/SCHEMA.md) plus the event.
type Payload struct {
	report.RecordJSON
	Event string `json:"event"`
}

// payload is the JSON of rec and event, redacted.
func payload(e runner.Ended, rec report.Record, secrets *redaction, event string) ([]byte, error) {
	b, err := json.Marshal(Payload{RecordJSON: report.NewRecordJSON(rec, datadir.Root(e.DataRoot)), Event: event})
	if err != nil {
		return nil, fmt.Errorf("encode run %s: %w", rec.Run.ID, err)
	}
	return []byte(secrets.JSON(string(b))), nil
}

// webhook POSTs the payload, up to Attempts times with a doubling
// backoff, each attempt bounded by AttemptTimeout and all of them by
// the run's budget (ctx). A 4xx answer other than 408 and 429 is final.
func (r *Reporter) webhook(ctx context.Context, e runner.Ended, rec report.Record, secrets *redaction, n config.Notify, event string) outcome {
	body, err := payload(e, rec, secrets, event)
	if err != nil {
		return outcome{err: err}
	}
	var sig string
	if n.Secret != "" {
		key, err := r.secretValue(n.Secret)
		if err != nil {
			return outcome{err: err}
		}
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		sig = "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
	defer tr.CloseIdleConnections()
	// A redirect would carry the body and its signature to another
	// host: the answer to a POST is taken as it is.
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	backoff := or(r.Backoff, DefaultBackoff)
	var o outcome
	for o.attempts < Attempts {
		if o.attempts > 0 {
			select {
			case <-ctx.Done():
				o.err = fmt.Errorf("%w (gave up: the %s for all notifications ran out)", o.err, or(r.Budget, DefaultBudget))
				return o
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		o.attempts++
		var final bool
		final, o.err = r.post(ctx, client, n.Webhook, body, event, sig)
		if o.err == nil || final {
			return o
		}
	}
	return o
}

// post makes one attempt; final says a retry would not help.
func (r *Reporter) post(ctx context.Context, client *http.Client, url string, body []byte, event, sig string) (final bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, or(r.AttemptTimeout, DefaultAttemptTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return true, fmt.Errorf("make the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "quire-hook")
	req.Header.Set("X-Quire-Event", event)
	if sig != "" {
		req.Header.Set("X-Quire-Signature-256", sig)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, fmt.Errorf("no answer within %s", or(r.AttemptTimeout, DefaultAttemptTimeout))
		}
		// Not the *url.Error itself: it names the URL, which may hold a token.
		if inner := errors.Unwrap(err); inner != nil {
			return false, inner
		}
		return false, errors.New("the request failed")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	if resp.StatusCode/100 == 3 {
		return true, fmt.Errorf("answered %s; redirects are not followed (they would carry the body and its signature elsewhere): give the final URL", resp.Status)
	}
	final = resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests
	return final, fmt.Errorf("answered %s", resp.Status)
}

// command runs a notify command once with the payload on its stdin.
func (r *Reporter) command(ctx context.Context, e runner.Ended, rec report.Record, secrets *redaction, n config.Notify, event string) outcome {
	body, err := payload(e, rec, secrets, event)
	if err != nil {
		return outcome{err: err}
	}
	env := r.env(secrets, "QUIRE_NOTIFY_EVENT="+event, "QUIRE_RUN_ID="+e.Run.ID)
	return outcome{attempts: 1, err: r.runCommand(ctx, n.Command, body, env)}
}

// runCommand runs argv with stdin, in a process group of its own that
// is killed when AttemptTimeout or ctx ends. The error quotes the end
// of its stderr.
func (r *Reporter) runCommand(ctx context.Context, argv []string, stdin []byte, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, or(r.AttemptTimeout, DefaultAttemptTimeout))
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A child that keeps the output pipes open must not hold us.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		// What it left in the background does not outlive the delivery.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("killed: it did not finish within %s", or(r.AttemptTimeout, DefaultAttemptTimeout))
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return fmt.Errorf("%w: %s", err, lastLine(msg))
	}
	return err
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4<<10 {
		t.b = t.b[len(t.b)-4<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return clean(s)
}
