package hook_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// TestServe_Refuses checks that serve stops before listening, with one
// line saying what is wrong and exit 2, when its flags or the
// repository do not let it serve.
func TestServe_Refuses(t *testing.T) {
	r := newRepo(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	md5 := write("htpasswd-md5", "alice:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n")
	plain := write("htpasswd-plain", "# users\nalice:secret\n")
	empty := write("htpasswd-empty", "# nobody yet\n")
	missing := filepath.Join(dir, "no-such-htpasswd")
	notRepo := t.TempDir()
	serve := []string{"--git-dir", r.Bare, "serve", "--listen", "127.0.0.1:0"}

	cases := []struct {
		name string
		dir  string
		args []string
		want []string
	}{
		{"BusyPort", r.Work, []string{"--git-dir", r.Bare, "serve", "--listen", busy.Addr().String()},
			[]string{"listen on " + busy.Addr().String(), "address already in use", "pick another address with --listen"}},
		{"BadAddress", r.Work, []string{"--git-dir", r.Bare, "serve", "--listen", "no-port"},
			[]string{"listen on no-port", "--listen"}},
		{"AuthMissing", r.Work, append(serve, "--auth", missing),
			[]string{"--auth", missing, "no such file"}},
		{"AuthMD5", r.Work, append(serve, "--auth", md5),
			[]string{"--auth", md5, "line 1", "alice", "not a bcrypt hash", "htpasswd -B"}},
		{"AuthPlain", r.Work, append(serve, "--auth", plain),
			[]string{"line 2", "alice", "not a bcrypt hash"}},
		{"AuthNoUsers", r.Work, append(serve, "--auth", empty),
			[]string{"--auth", empty, "no users", "htpasswd -B"}},
		{"BasePathRelative", r.Work, append(serve, "--base-path", "ci"),
			[]string{`base path "ci"`, "clean absolute path such as /ci"}},
		{"BasePathDots", r.Work, append(serve, "--base-path", "/ci/../x"),
			[]string{`base path "/ci/../x"`}},
		{"NoRepository", notRepo, []string{"serve", "--listen", "127.0.0.1:0"},
			[]string{notRepo, "--repos DIR"}},
		{"Arguments", r.Work, append(serve, "extra"),
			[]string{"serve takes no arguments"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := runBin(t, r.Env, c.dir, "", c.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.HasPrefix(out, "quire-hook: ") || strings.Count(out, "\n") != 1 {
				t.Errorf("want one line starting quire-hook:, got:\n%s", out)
			}
			for _, w := range c.want {
				wantContains(t, out, w)
			}
			if strings.Contains(out, "listening on") {
				t.Errorf("it said it listens:\n%s", out)
			}
		})
	}
}

// TestServe_StopsWithStreamOpen sends SIGTERM while a browser-like
// client follows an active run: the stream ends and serve exits 0.
func TestServe_StopsWithStreamOpen(t *testing.T) {
	r := newRepo(t)
	gate := filepath.Join(t.TempDir(), "gate")
	r.Pipeline(fmt.Sprintf(`local ci = require("quire.ci")
ci.job("wait", {"quire/push"}, function(q)
  q.sh("while [ ! -e '%s' ]; do sleep 0.05; done", {timeout = 60})
end)`, gate))
	r.Commit("wait for the gate")
	wait := r.pushAsync()
	defer func() {
		os.WriteFile(gate, nil, 0o644)
		wait()
	}()
	var run store.Run
	waitFor(t, "the active run", func() bool {
		runs := r.runsNow()
		if len(runs) > 0 {
			run = runs[0]
		}
		return len(runs) > 0 && run.State == store.RunActive
	})

	srv := startServe(t, r.Env, r.Work, "--git-dir", r.Bare, "serve", "--listen", "127.0.0.1:0")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"runs/"+run.ID+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("events: %s, Content-Type %q; want 200 and text/event-stream", resp.Status, ct)
	}
	body := bufio.NewReader(resp.Body)
	if line, err := body.ReadString('\n'); err != nil || !strings.HasPrefix(line, "event: update") {
		t.Fatalf("the stream's first line is %q (%v), want event: update", line, err)
	}

	if code := srv.stop(15 * time.Second); code != 0 {
		t.Errorf("serve exited %d after SIGTERM with a stream open, want 0:\n%s", code, srv.output())
	}
	if got := lastLine(srv.output()); got != "quire-hook serve: stopped" {
		t.Errorf("last line %q, want quire-hook serve: stopped; output:\n%s", got, srv.output())
	}
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, body)
		ended <- err
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Error("the event stream stayed open after serve stopped")
	}
}

// lastLineOf is the last line of out that holds sub, or "".
func lastLineOf(out, sub string) string {
	found := ""
	for line := range strings.Lines(out) {
		if strings.Contains(line, sub) {
			found = line
		}
	}
	return found
}

// TestServe_Listen checks the warning for an address beyond loopback
// without auth, Basic auth against an htpasswd file, and that the
// server only reads.
func TestServe_Listen(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("ok", {"quire/push"}, function(q) q.sh("true") end)`)
	r.Commit("one run")
	r.push()

	t.Run("OpenWithoutAuth", func(t *testing.T) {
		srv := startServe(t, r.Env, r.Work, "--git-dir", r.Bare, "serve", "--listen", "0.0.0.0:0")
		// Go listens on every address, IPv6 too, and names it [::].
		if out := srv.output(); !strings.HasPrefix(out, "quire-hook serve: warning: listening on ") ||
			!strings.Contains(lastLineOf(out, "warning"), "without --auth: anyone who can reach it can read every log") {
			t.Errorf("no warning first about listening beyond loopback without --auth:\n%s", out)
		}
		if code, _ := srv.get("/"); code != http.StatusOK {
			t.Errorf("GET /: %d, want 200", code)
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			code, body := srv.do(m, "/")
			if code != http.StatusMethodNotAllowed {
				t.Errorf("%s /: %d, want 405", m, code)
			}
			wantContains(t, body, "only GET and HEAD")
		}
		if code, _ := srv.do(http.MethodHead, "/runs"); code != http.StatusOK {
			t.Errorf("HEAD /runs: %d, want 200", code)
		}
		if code := srv.stop(15 * time.Second); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	})

	t.Run("Auth", func(t *testing.T) {
		hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := startServe(t, r.Env, r.Work, "--git-dir", r.Bare, "serve", "--listen", "0.0.0.0:0", "--auth", htpasswd)
		if strings.Contains(srv.output(), "warning") {
			t.Errorf("warned although --auth is set:\n%s", srv.output())
		}
		for _, c := range []struct {
			user, pass string
			want       int
		}{
			{"", "", http.StatusUnauthorized},
			{"alice", "wrong", http.StatusUnauthorized},
			{"bob", "s3cret", http.StatusUnauthorized},
			{"alice", "s3cret", http.StatusOK},
		} {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"runs", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("GET /runs as %q:%q: %d, want %d", c.user, c.pass, resp.StatusCode, c.want)
			}
			if c.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		}
		// POST is refused before auth is asked for.
		if code, _ := srv.do(http.MethodPost, "/runs"); code != http.StatusMethodNotAllowed {
			t.Errorf("POST /runs: %d, want 405", code)
		}
		if code := srv.stop(15 * time.Second); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	})
}

// pushAsync pushes main in the background: the hook runs the pipeline
// before git push returns, and the test watches the run meanwhile. The
// returned function waits for the push and fails the test if it failed.
func (r *repo) pushAsync() (wait func()) {
	pushed := make(chan error, 1)
	go func() {
		out, err := r.Push("origin", "main")
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		pushed <- err
	}()
	return func() {
		if err := <-pushed; err != nil {
			r.t.Errorf("git push: %v", err)
		}
	}
}
