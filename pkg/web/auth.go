package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Auth checks HTTP Basic credentials against an htpasswd file of bcrypt
// hashes (htpasswd -B). The file is read again when it changes, so users
// are added or removed without a restart.
type Auth struct {
	path string

	mu    sync.Mutex
	mtime time.Time
	size  int64
	users map[string][]byte // user → bcrypt hash
	// ok remembers credentials that passed, keyed by a SHA-256 of user
	// and password, so that a page and its CSS and events do not each
	// pay for a bcrypt comparison (tens of ms by design).
	ok map[[32]byte]time.Time
}

// authCacheFor is how long a checked password is trusted without
// bcrypt; authCacheMax bounds the entries.
const (
	authCacheFor = 5 * time.Minute
	authCacheMax = 1024
)

// maxHtpasswd bounds the htpasswd file read.
const maxHtpasswd = 4 << 20

// NewAuth reads the htpasswd file at path. Every line must be
// "user:hash" with a bcrypt hash ($2a$, $2b$ or $2y$); blank lines and
// lines starting with # are skipped.
func NewAuth(path string) (*Auth, error) {
	a := &Auth{path: path, ok: map[[32]byte]time.Time{}}
	dummyHash() // made now, so that no request waits for it
	if err := a.reload(true); err != nil {
		return nil, err
	}
	return a, nil
}

// reload reads the file again if it changed since it was last read. A
// file that became unreadable or invalid keeps the users last read
// unless force is set.
func (a *Auth) reload(force bool) error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("read htpasswd file: %w", err)
	}
	if !force && fi.ModTime().Equal(a.mtime) && fi.Size() == a.size {
		return nil
	}
	if fi.Size() > maxHtpasswd {
		return fmt.Errorf("read htpasswd file %s: larger than %d bytes", a.path, maxHtpasswd)
	}
	data, err := os.ReadFile(a.path)
	if err != nil {
		return fmt.Errorf("read htpasswd file: %w", err)
	}
	users, err := parseHtpasswd(data)
	if err != nil {
		return fmt.Errorf("htpasswd file %s: %w", a.path, err)
	}
	a.users, a.mtime, a.size = users, fi.ModTime(), fi.Size()
	clear(a.ok)
	return nil
}

// parseHtpasswd reads "user:bcrypt-hash" lines.
func parseHtpasswd(data []byte) (map[string][]byte, error) {
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxHtpasswd)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:hash", n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: user %s: not a bcrypt hash; only bcrypt is supported: make it with htpasswd -B", n, user)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("no users; add one with htpasswd -B FILE NAME")
	}
	return users, nil
}

// dummyHash is compared against when the user is unknown, so that the
// answer takes as long as for a known user. It is made on first use, not
// at start-up: bcrypt takes ~50 ms, which every hook would pay.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("quire-hook"), bcrypt.DefaultCost)
	return h
})

// allow checks r's credentials; if they do not pass it answers 401 and
// returns false.
func (a *Auth) allow(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if ok && a.check(user, pass) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="quire-hook", charset="UTF-8"`)
	http.Error(w, "authentication required", http.StatusUnauthorized)
	return false
}

// check reports whether user and pass are valid.
func (a *Auth) check(user, pass string) bool {
	a.mu.Lock()
	_ = a.reload(false) // keep the users last read if the file is broken now
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	if at, ok := a.ok[key]; ok && time.Since(at) < authCacheFor {
		a.mu.Unlock()
		return true
	}
	hash, known := a.users[user]
	a.mu.Unlock()

	if !known {
		hash = dummyHash()
	}
	good := bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil && known
	if good {
		a.mu.Lock()
		if len(a.ok) >= authCacheMax {
			clear(a.ok)
		}
		a.ok[key] = time.Now()
		a.mu.Unlock()
	}
	return good
}
