package dockerapi

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// refPattern is the grammar of an image reference, as the engine's
// distribution/reference package has it: [domain/]path[:tag][@digest].
// It is compiled at its first use, not at every start of the binary
// (every hook, most of which never meet an image).
var refPattern = sync.OnceValue(func() *regexp.Regexp {
	const (
		domainPart = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		domain     = `(?:` + domainPart + `(?:\.` + domainPart + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
		pathPart   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
		name       = `(?:` + domain + `/)?` + pathPart + `(?:/` + pathPart + `)*`
		tag        = `[\w][\w.-]{0,127}`
		digest     = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,128}`
	)
	return regexp.MustCompile(`^(` + name + `)(?::` + tag + `)?(?:@` + digest + `)?$`)
})

// maxNameLen is the engine's bound on an image name, tag and digest
// aside.
const maxNameLen = 255

// ValidRef returns an error unless ref is an image reference such as
// "golang:1.26", "registry:5000/team/img:v2" or "alpine@sha256:…".
// ci.image comes from a push: only a reference may become part of an
// API path or query, so that no value can name another endpoint, add a
// parameter or be read as a flag.
func ValidRef(ref string) error {
	m := refPattern().FindStringSubmatch(ref)
	if m == nil || len(m[1]) > maxNameLen {
		return fmt.Errorf("%s is not an image reference: want [registry/]name[:tag][@digest], lowercase, e.g. \"golang:1.26\"", quoteShort(ref))
	}
	return nil
}

// quoteShort quotes s for a message, cut to its first 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q (%d bytes)", s[:64]+"…", len(s))
	}
	return fmt.Sprintf("%q", s)
}

// oneLine makes an engine's message fit one line of a run's error:
// valid UTF-8, no control characters, runs of white space as one space,
// at most max bytes.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
