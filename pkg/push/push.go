// Package push parses the ref updates that git hands a post-receive hook.
package push

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ZeroSHA is the all-zeros object name git uses for a ref that did not
// exist before the push (as Old) or was deleted by it (as New).
const ZeroSHA = "0000000000000000000000000000000000000000"

// Update is one "<old> <new> <ref>" line of post-receive input.
type Update struct {
	Old string
	New string
	Ref string
}

// Deleted reports whether the push deleted the ref.
func (u Update) Deleted() bool { return isZero(u.New) }

// Created reports whether the push created the ref.
func (u Update) Created() bool { return isZero(u.Old) }

// LineError describes a malformed input line; parsing goes on after it.
type LineError struct {
	Line int
	Text string
	Msg  string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("stdin line %d %q: %s", e.Line, e.Text, e.Msg)
}

// maxLine bounds one input line; git's lines are two shas and a ref name.
const maxLine = 64 * 1024

// Parse reads every update line from r. Malformed lines are returned as
// *LineError values in bad and never stop the others; err is set only
// when reading r itself fails.
func Parse(r io.Reader) (updates []Update, bad []*LineError, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		u, msg := parseLine(text)
		if msg != "" {
			bad = append(bad, &LineError{Line: n, Text: text, Msg: msg})
			continue
		}
		updates = append(updates, u)
	}
	if err := sc.Err(); err != nil {
		return updates, bad, fmt.Errorf("read ref updates from stdin: %w", err)
	}
	return updates, bad, nil
}

// parseLine splits one line; the ref is everything after the second
// space, so ref names with spaces (which git refuses, but a hand-fed
// hook may see) are reported rather than silently truncated.
func parseLine(text string) (Update, string) {
	oldSHA, rest, ok := strings.Cut(text, " ")
	if !ok {
		return Update{}, `want "<old-sha> <new-sha> <ref>"`
	}
	newSHA, ref, ok := strings.Cut(rest, " ")
	if !ok {
		return Update{}, `want "<old-sha> <new-sha> <ref>"`
	}
	if !isSHA(oldSHA) {
		return Update{}, fmt.Sprintf("old sha %q is not a 40-hex object name", oldSHA)
	}
	if !isSHA(newSHA) {
		return Update{}, fmt.Sprintf("new sha %q is not a 40-hex object name", newSHA)
	}
	if msg := checkRef(ref); msg != "" {
		return Update{}, msg
	}
	return Update{Old: oldSHA, New: newSHA, Ref: ref}, ""
}

func checkRef(ref string) string {
	switch {
	case ref == "":
		return "empty ref name"
	case !strings.HasPrefix(ref, "refs/"):
		return fmt.Sprintf("ref %q does not start with refs/", ref)
	}
	for _, c := range []byte(ref) {
		if c < 0x20 || c == 0x7f || c == ' ' {
			return fmt.Sprintf("ref %q contains a space or control character", ref)
		}
	}
	return ""
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isZero(s string) bool { return s == ZeroSHA }

// ShortRef returns the branch or tag name of ref, or ref itself.
func ShortRef(ref string) string {
	for _, p := range []string{"refs/heads/", "refs/tags/"} {
		if s, ok := strings.CutPrefix(ref, p); ok {
			return s
		}
	}
	return ref
}
