// Package push parses the ref updates that git hands a post-receive hook.
package push

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
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
func (u Update) Deleted() bool { return u.New == ZeroSHA }

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

// Parse reads every update line from r. Malformed lines, overlong ones
// included, are returned as *LineError values in bad and never stop the
// others; err is set only when reading r itself fails.
func Parse(r io.Reader) (updates []Update, bad []*LineError, err error) {
	br := bufio.NewReaderSize(r, 4096)
	for n := 1; ; n++ {
		line, long, err := readLine(br)
		if err == io.EOF && line == nil {
			return updates, bad, nil
		}
		if err != nil && err != io.EOF {
			return updates, bad, fmt.Errorf("read ref updates from stdin: %w", err)
		}
		text := strings.TrimSuffix(string(line), "\r")
		switch {
		case long:
			bad = append(bad, &LineError{Line: n, Text: text[:64] + "...", Msg: fmt.Sprintf("line is over %d bytes", maxLine)})
		case strings.TrimSpace(text) == "":
		default:
			if u, msg := parseLine(text); msg != "" {
				bad = append(bad, &LineError{Line: n, Text: text, Msg: msg})
			} else {
				updates = append(updates, u)
			}
		}
		if err == io.EOF {
			return updates, bad, nil
		}
	}
}

// readLine returns the next line without its newline, keeping at most
// maxLine bytes of it; long reports that the rest was skipped.
func readLine(br *bufio.Reader) (line []byte, long bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) <= maxLine {
			line = append(line, chunk...)
		} else {
			long = true
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
			return line[:len(line)-1], long, nil
		case io.EOF:
			if len(line) == 0 && !long {
				return nil, false, io.EOF
			}
			return line, long, io.EOF
		default:
			return line, long, err
		}
	}
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
	if err := CheckRef(ref); err != nil {
		return Update{}, err.Error()
	}
	return Update{Old: oldSHA, New: newSHA, Ref: ref}, ""
}

// MaxRefLen bounds a ref name, and MaxRefComponent one of its
// slash-separated parts: git keeps a ref as a file, whose name and path
// the file system limits.
const (
	MaxRefLen       = 1024
	MaxRefComponent = 255
)

// CheckRef returns nil if ref is a full ref name that git would accept in
// a push, else an error saying what is wrong with it. It applies the
// rules of git check-ref-format that matter to quire-hook: the name
// starts with refs/, is UTF-8 with no space, control character, "..",
// "//", "@{" or any of ~^:?*[\, does not end with "/" or ".", and no
// part of it starts with "." or ends with ".lock". post-receive and
// replay --ref refuse the same names with it.
func CheckRef(ref string) error {
	switch {
	case ref == "":
		return errors.New("empty ref name")
	case len(ref) > MaxRefLen:
		return fmt.Errorf("ref %q... is %d bytes, over the %d-byte limit", ref[:64], len(ref), MaxRefLen)
	case !strings.HasPrefix(ref, "refs/"):
		return fmt.Errorf("ref %q does not start with refs/", ref)
	case !utf8.ValidString(ref):
		return fmt.Errorf("ref %q is not valid UTF-8", ref)
	}
	for _, c := range []byte(ref) {
		if c < 0x20 || c == 0x7f || c == ' ' {
			return fmt.Errorf("ref %q contains a space or control character", ref)
		}
		if strings.IndexByte(`~^:?*[\`, c) >= 0 {
			return fmt.Errorf("ref %q contains %q", ref, string(c))
		}
	}
	for _, s := range []string{"..", "//", "@{"} {
		if strings.Contains(ref, s) {
			return fmt.Errorf("ref %q contains %q", ref, s)
		}
	}
	switch {
	case strings.HasSuffix(ref, "/"):
		return fmt.Errorf("ref %q ends with /", ref)
	case strings.HasSuffix(ref, "."):
		return fmt.Errorf("ref %q ends with .", ref)
	}
	for _, part := range strings.Split(ref, "/") {
		switch {
		case strings.HasPrefix(part, "."):
			return fmt.Errorf("ref %q has a part that starts with .", ref)
		case strings.HasSuffix(part, ".lock"):
			return fmt.Errorf("ref %q has a part that ends with .lock", ref)
		case len(part) > MaxRefComponent:
			return fmt.Errorf("ref %q has a part over %d bytes", ref, MaxRefComponent)
		}
	}
	return nil
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
