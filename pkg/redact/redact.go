// Package redact replaces secret values with "{{ name }}" in what a run
// writes: whole strings (Set.String), JSON text (Set.JSON) and streams
// that arrive in arbitrary pieces (Stream, Writer).
//
// What counts as a secret's appearance: a Set redacts, for each secret,
// the value itself; for a value of several lines (a PEM key), also each
// of its lines on its own, without its line ending and surrounding
// blanks, when that line has at least MinLen bytes (shorter lines carry
// too little to be worth hiding and would blank out ordinary text); and
// for each of these texts, the forms quoting gives it: inside a JSON
// string (quotes, backslashes and control characters escaped, invalid
// UTF-8 replaced), inside a Go-quoted string (strconv.Quote, fmt's %q:
// also non-printable runes and invalid bytes escaped), and inside a
// single-quoted shell word (each ' closed, escaped and reopened).
// Where occurrences overlap, the whole stretch they cover becomes one
// replacement, named after the secret that starts it, so no byte of an
// overlapping secret survives. Values transformed otherwise (base64, URL
// encoding) are not recognized.
package redact

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// MinLen is the shortest secret value that can be redacted safely: a
// shorter one would blank out ordinary text and hide little.
const MinLen = 4

// MaxLen is the longest secret value a Set takes; a stream holds back
// fewer bytes than this, so memory stays bounded.
const MaxLen = 64 << 10

// Set is the secrets whose values must not be written. Secrets are only
// ever added. It is safe for concurrent use; a nil *Set redacts nothing.
type Set struct {
	mu      sync.Mutex
	secrets []secret
	m       atomic.Pointer[matcher]
}

type secret struct{ name, value string }

// Add adds a secret. A value shorter than MinLen or longer than MaxLen
// is refused, with an error that names the secret but never holds its
// value. Adding a name again with the same value does nothing; with
// another value, both are redacted.
func (s *Set) Add(name, value string) error {
	switch {
	case len(value) < MinLen:
		return fmt.Errorf("secret %q is shorter than %d bytes and cannot be redacted safely; use a longer value", name, MinLen)
	case len(value) > MaxLen:
		return fmt.Errorf("secret %q is longer than %d KiB; quire redacts secrets of at most that size", name, MaxLen>>10)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.secrets, secret{name, value}) {
		return nil
	}
	s.secrets = append(s.secrets, secret{name, value})
	s.m.Store(compile(s.secrets))
	return nil
}

// Len reports how many secrets the Set holds.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.secrets)
}

// String returns str with every secret replaced.
func (s *Set) String(str string) string {
	m := s.matcher()
	if m == nil || !mayContain(m, str) {
		return str
	}
	out, _, _ := m.scan(nil, []byte(str), 0, true)
	return string(out)
}

// Bytes returns b with every secret replaced; b itself is not changed,
// and is returned as it is when it holds no secret.
func (s *Set) Bytes(b []byte) []byte {
	m := s.matcher()
	if m == nil || !mayContain(m, b) {
		return b
	}
	out, _, _ := m.scan(nil, b, 0, true)
	return out
}

// Stream returns a redactor for one stream of bytes, with the secrets
// the Set holds now; secrets added later do not apply to it.
func (s *Set) Stream() *Stream {
	return &Stream{m: s.matcher()}
}

func (s *Set) matcher() *matcher {
	if s == nil {
		return nil
	}
	return s.m.Load()
}

// Replacement is what a secret's value is replaced with.
func Replacement(name string) string {
	return "{{ " + name + " }}"
}

// matcher finds the patterns of a Set's secrets. It is immutable.
type matcher struct {
	pats    []pattern
	byFirst [256][]int // pattern indexes by first byte, longest first
	isFirst [256]bool
	firsts  []byte // the distinct first bytes
	maxLen  int
}

type pattern struct {
	text []byte
	repl []byte
}

// compile builds the matcher of secrets. A text that several secrets
// share is replaced with the name of the first.
func compile(secrets []secret) *matcher {
	m := &matcher{}
	seen := map[string]bool{}
	for _, sec := range secrets {
		repl := []byte(Replacement(sec.name))
		for _, text := range variants(sec.value) {
			if len(text) < MinLen || seen[text] {
				continue
			}
			seen[text] = true
			m.pats = append(m.pats, pattern{text: []byte(text), repl: repl})
		}
	}
	for k, p := range m.pats {
		c := p.text[0]
		if !m.isFirst[c] {
			m.isFirst[c] = true
			m.firsts = append(m.firsts, c)
		}
		m.byFirst[c] = append(m.byFirst[c], k)
		m.maxLen = max(m.maxLen, len(p.text))
	}
	for c := range m.byFirst {
		slices.SortStableFunc(m.byFirst[c], func(a, b int) int { return len(m.pats[b].text) - len(m.pats[a].text) })
	}
	return m
}

// variants returns the texts that reveal value: the value, its lines,
// and their JSON-escaped, Go-quoted, shell-quoted and UTF-8-repaired
// forms (see the package doc).
func variants(value string) []string {
	base := []string{value}
	if strings.ContainsAny(value, "\r\n") {
		for _, line := range strings.Split(value, "\n") {
			line = strings.Trim(strings.TrimSuffix(line, "\r"), " \t")
			if len(line) >= MinLen {
				base = append(base, line)
			}
		}
	}
	var out []string
	for _, b := range base {
		goq := strconv.Quote(b)
		out = append(out, b, string(appendJSONEscaped(nil, b)), repairUTF8(b),
			goq[1:len(goq)-1], strings.ReplaceAll(b, "'", `'\''`))
	}
	return out
}

// repairUTF8 replaces each byte that is not part of valid UTF-8 with
// U+FFFD, as JSON encoding does.
func repairUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// mayContain reports whether b could hold a pattern: a cheap test that
// lets text without any candidate first byte through untouched.
func mayContain[T ~string | ~[]byte](m *matcher, b T) bool {
	for i := 0; i < len(b); i++ {
		if m.isFirst[b[i]] {
			return true
		}
	}
	return false
}

// next returns the first position from i where a pattern could start,
// or len(b).
func (m *matcher) next(b []byte, i int) int {
	if len(m.firsts) == 1 {
		if j := bytes.IndexByte(b[i:], m.firsts[0]); j >= 0 {
			return i + j
		}
		return len(b)
	}
	for ; i < len(b); i++ {
		if m.isFirst[b[i]] {
			return i
		}
	}
	return i
}

// longestAt returns the length and replacement of the longest pattern
// that starts at b[i], 0 if none does. ok is false when that cannot be
// known yet: b ends inside a pattern that could still match, and more
// bytes may follow (not final).
func (m *matcher) longestAt(b []byte, i int, final bool) (n int, repl []byte, ok bool) {
	rest := b[i:]
	for _, k := range m.byFirst[rest[0]] {
		p := m.pats[k].text
		if len(rest) >= len(p) {
			// Longest first: every longer pattern was ruled out already.
			if bytes.Equal(rest[:len(p)], p) {
				return len(p), m.pats[k].repl, true
			}
		} else if !final && bytes.HasPrefix(p, rest) {
			return 0, nil, false
		}
	}
	return 0, nil, true
}

// scan redacts b, whose first run bytes are still covered by a secret
// already replaced. It appends the output for the prefix of b it could
// decide to dst, and returns how many bytes that prefix has and how many
// bytes after it are still covered. With final, it decides all of b.
//
// Each position is decided only once every pattern that could start
// there has been seen whole or ruled out, so the output does not depend
// on how b was cut into pieces.
func (m *matcher) scan(dst, b []byte, run int, final bool) ([]byte, int, int) {
	i := 0
	for i < len(b) {
		if i < run {
			// Inside a replaced stretch: swallow bytes, and stretch it
			// over any occurrence that starts within it.
			if i = m.next(b[:min(run, len(b))], i); i >= min(run, len(b)) {
				continue
			}
			n, _, ok := m.longestAt(b, i, final)
			if !ok {
				break
			}
			run = max(run, i+n)
			i++
			continue
		}
		j := m.next(b, i)
		dst = append(dst, b[i:j]...)
		if i = j; i == len(b) {
			break
		}
		n, repl, ok := m.longestAt(b, i, final)
		if !ok {
			break
		}
		if n == 0 {
			dst = append(dst, b[i])
			i++
			continue
		}
		dst = append(dst, repl...)
		run = i + n
		i++
	}
	return dst, i, max(run-i, 0)
}
