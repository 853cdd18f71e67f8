package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/redact"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestRunner_Secret(t *testing.T) {
	t.Parallel()
	const (
		plain  = "plain-s3cret-value"
		quoted = `q"uo\te-s3cret`
		file   = "file-s3cret-value"
	)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(file+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, `
ci.job("resolve", {"quire/push"}, function(q)
  local p, f = q.secret("plain"), q.secret("file")
  return {same = p == "`+plain+`" and f == "`+file+`", v = q.secret("quoted"), w = {"<" .. q.secret("quoted") .. ">"}}
end)
ci.job("later", {"quire/push"}, function(q)
  q.sh("echo $LEAKY")
  q.log("log " .. q.env("LEAKY"))
  error("failed with " .. q.env("LEAKY"))
end)
ci.job("undeclared", {"quire/push"}, function(q) q.secret("nope") end)
ci.job("unreadable", {"quire/push"}, function(q) q.secret("dir") end)
ci.job("plain-again", {"quire/push"}, function(q) return {n = #q.secret("plain")} end)
`)
	h.Secrets = map[string]config.Secret{
		"plain":  {Value: plain},
		"quoted": {Value: quoted},
		"file":   {File: filepath.Join(dir, "secret")},
		"dir":    {File: dir},
	}
	// A value that the later job reads without q.secret.
	h.Env = []string{"LEAKY=" + plain}
	o := h.run()

	t.Run("ValueInLua", func(t *testing.T) {
		o.wantState("resolve", "complete")
		if got := o.outputs("resolve")["same"]; got != true {
			t.Errorf("same = %v, want true", got)
		}
		if got := o.outputs("plain-again")["n"]; got != float64(len(plain)) {
			t.Errorf("n = %v, want %d", got, len(plain))
		}
	})
	t.Run("OutputsJSON", func(t *testing.T) {
		out := o.job("resolve").Outputs
		if !json.Valid([]byte(out)) {
			t.Fatalf("outputs %s are not valid JSON", out)
		}
		if got := o.outputs("resolve")["w"]; got.([]any)[0] != "<{{ quoted }}>" {
			t.Errorf("w = %v, want [<{{ quoted }}>]", got)
		}
		if strings.Contains(out, `uo\\te`) || strings.Contains(out, quoted) {
			t.Errorf("outputs %s hold the secret", out)
		}
	})
	t.Run("LaterJobs", func(t *testing.T) {
		j := o.wantState("later", "failed")
		if !strings.Contains(j.Error, "failed with {{ plain }}") {
			t.Errorf("error %q", j.Error)
		}
		got := text(o.lines(o.shLogPath("later", 1))) + text(o.lines(filepath.Join(o.jobDir("later"), "job.log")))
		for _, want := range []string{"stdout: {{ plain }}\n", "stdout: log {{ plain }}\n", "failed with {{ plain }}"} {
			if !strings.Contains(got, want) {
				t.Errorf("logs lack %q:\n%s", want, got)
			}
		}
		if !strings.Contains(o.progress, "failed with {{ plain }}") {
			t.Errorf("progress lacks the redacted error")
		}
	})
	t.Run("Undeclared", func(t *testing.T) {
		j := o.wantState("undeclared", "failed")
		if !strings.Contains(j.Error, `q.secret: secret "nope" is not declared`) {
			t.Errorf("error %q", j.Error)
		}
	})
	t.Run("Unreadable", func(t *testing.T) {
		j := o.wantState("unreadable", "failed")
		if want := `secret "dir": read secret file ` + dir + ": is a directory"; !strings.Contains(j.Error, want) {
			t.Errorf("error %q lacks %q", j.Error, want)
		}
	})
	t.Run("Nowhere", func(t *testing.T) {
		if strings.Contains(o.progress, plain) || strings.Contains(o.progress, file) {
			t.Errorf("progress holds a secret")
		}
		for _, e := range o.sh {
			if strings.Contains(e.Cmd, plain) {
				t.Errorf("sh_events.cmd %q holds a secret", e.Cmd)
			}
		}
		for _, id := range o.order {
			j := o.jobs[id]
			if strings.Contains(j.Error+j.Outputs, plain) || strings.Contains(j.Error+j.Outputs, file) {
				t.Errorf("job %s row holds a secret", id)
			}
		}
	})
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"Newline", "value\n", "value"},
		{"CRLF", "value\r\n", "value"},
		{"OnlyOne", "value\n\n", "value\n"},
		{"None", "value", "value"},
		{"MultiLine", "a-line\nb-line\n", "a-line\nb-line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readSecretFile(path)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRunner_FinishRedacts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `ci.job("a", {"quire/push"}, function(q) end)`)
	sha := h.commit("one")
	if out, err := h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	r, push, _, progress := h.prepare(sha, pushSpec{})
	res, err := r.Enqueue(t.Context(), push)
	if err != nil {
		t.Fatal(err)
	}
	res.secrets = new(redact.Set)
	if err := res.secrets.Add("tok", "s3cr3t-value"); err != nil {
		t.Fatal(err)
	}
	res, err = r.finish(t.Context(), res, "failed", store.FailInternal, "internal: s3cr3t-value went wrong", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	row, err := h.store.GetRun(t.Context(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	want := "internal: {{ tok }} went wrong"
	if row.Error != want || res.Error != want {
		t.Errorf("runs.error = %q, Result.Error = %q, want %q", row.Error, res.Error, want)
	}
	if !strings.Contains(progress.String(), want) {
		t.Errorf("progress lacks %q:\n%s", want, progress)
	}
}

// A secret file that is a FIFO (or a device) is refused at once, naming
// the file: opening a FIFO without a writer would block the hook.
func TestRunner_SecretFileNotRegular(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Whatever happens, unblock an open that waits for a writer, so the
	// test fails instead of hanging.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	h := newHarness(t, `
ci.job("fifo", {"quire/push"}, function(q) q.secret("fifo") end)
ci.job("device", {"quire/push"}, function(q) q.secret("device") end)
`)
	h.Secrets = map[string]config.Secret{"fifo": {File: fifo}, "device": {File: "/dev/zero"}}
	// A hang would last the job timeout and then the stuck-call grace.
	h.Settings.JobTimeout = 10 * time.Second
	o := h.run()
	for job, want := range map[string]string{
		"fifo":   `secret "fifo": read secret file ` + fifo + ": not a regular file (a named pipe); point the secret at a regular file",
		"device": `secret "device": read secret file /dev/zero: not a regular file (a device)`,
	} {
		j := o.wantState(job, "failed")
		if !strings.Contains(j.Error, want) {
			t.Errorf("job %s: error %q, want %q", job, j.Error, want)
		}
		if took := time.Duration(j.FinishedAtMS-j.StartedAtMS) * time.Millisecond; took > 3*time.Second {
			t.Errorf("job %s took %s; the secret file must be refused at once", job, took)
		}
	}
}
