package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/quire-ci/quire-hook/pkg/web"
)

// htpasswdLine is "user:<bcrypt of pass>".
func htpasswdLine(t *testing.T, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	must(t, err)
	return user + ":" + string(h) + "\n"
}

func TestAuth(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "htpasswd")
	must(t, os.WriteFile(file, []byte("# users\n\n"+htpasswdLine(t, "alice", "s3cret")), 0o600))
	a, err := web.NewAuth(file)
	must(t, err)
	f := newFixture(t, web.Options{Auth: a})
	try := func(user, pass string) response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", f.hs.URL+"/runs", nil)
		must(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := f.hs.Client().Do(req)
		must(t, err)
		res.Body.Close()
		return response{status: res.StatusCode, header: res.Header}
	}
	for _, tt := range []struct {
		user, pass string
		want       int
	}{
		{"", "", 401},
		{"alice", "wrong", 401},
		{"bob", "s3cret", 401},
		{"alice", "", 401},
		{"alice", "s3cret", 200},
		{"alice", "s3cret", 200}, // from the cache
	} {
		r := try(tt.user, tt.pass)
		if r.status != tt.want {
			t.Errorf("%s:%s: %d, want %d", tt.user, tt.pass, r.status, tt.want)
		}
		if tt.want == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s:%s: WWW-Authenticate %q", tt.user, tt.pass, r.header.Get("WWW-Authenticate"))
		}
	}
	if r := f.do(t, "GET", "/badge/team1/tools.git/main.svg"); r.status != 401 {
		t.Errorf("a badge without credentials: %d, want 401", r.status)
	}

	// The file changes: carol replaces alice, without a restart.
	must(t, os.WriteFile(file, []byte(htpasswdLine(t, "carol", "other")), 0o600))
	future := time.Now().Add(time.Minute)
	must(t, os.Chtimes(file, future, future))
	if r := try("carol", "other"); r.status != 200 {
		t.Errorf("carol after the file changed: %d, want 200", r.status)
	}
	if r := try("alice", "s3cret"); r.status != 401 {
		t.Errorf("alice after she was removed: %d, want 401", r.status)
	}
	// A file that turns invalid keeps the users last read.
	must(t, os.WriteFile(file, []byte("carol:{SHA}x\n"), 0o600))
	later := future.Add(time.Minute)
	must(t, os.Chtimes(file, later, later))
	if r := try("carol", "other"); r.status != 200 {
		t.Errorf("carol after the file broke: %d, want 200", r.status)
	}
}

func TestNewAuth_Refuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := htpasswdLine(t, "alice", "pw")
	for _, tt := range []struct {
		name, text string
		want       []string // in the error
	}{
		{"sha", good + "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", []string{"line 2", "bob", "bcrypt"}},
		{"apr1", "# c\nbob:$apr1$abc$def\n" + good, []string{"line 2", "bob", "bcrypt"}},
		{"crypt", "bob:rl0dR8dUZRlSE\n", []string{"line 1", "bob"}},
		{"no colon", "bob\n", []string{"line 1", "user:hash"}},
		{"empty", "# nobody\n", []string{"no users"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.name)
			must(t, os.WriteFile(file, []byte(tt.text), 0o600))
			_, err := web.NewAuth(file)
			if err == nil {
				t.Fatal("NewAuth accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := web.NewAuth(filepath.Join(dir, "missing")); err == nil {
		t.Error("NewAuth accepted a missing file")
	}
}
