package logpage

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxCursorValue bounds every number of a cursor: no log or line count
// comes near 2^50 (a petabyte), so a larger one is an edited URL.
const maxCursorValue = 1 << 50

// Cursor is a position in a log of one or more files: the byte offset
// in each file from which the lines not read yet start, and the number
// of lines before it, for numbering lines as #L<n>. The zero Cursor is
// the start of any log.
type Cursor struct {
	// Line is the number of lines before the position.
	Line int64
	// Offsets holds one offset per file, in the order of the files; a
	// missing one (a file that appeared since) is 0.
	Offsets []int64
}

// String encodes c for a URL query: the line count and the offsets in
// decimal, separated by dots, trailing zero offsets left out
// ("1000.52431.0.88" for a job of three files). The zero Cursor is "0".
func (c Cursor) String() string {
	n := len(c.Offsets)
	for n > 0 && c.Offsets[n-1] == 0 {
		n--
	}
	var b strings.Builder
	b.WriteString(strconv.FormatInt(c.Line, 10))
	for _, o := range c.Offsets[:n] {
		b.WriteByte('.')
		b.WriteString(strconv.FormatInt(o, 10))
	}
	return b.String()
}

// offset returns the offset of file i.
func (c Cursor) offset(i int) int64 {
	if i < len(c.Offsets) {
		return c.Offsets[i]
	}
	return 0
}

// ParseCursor decodes a cursor String made for a log of nfiles files;
// "" is the start. It is strict, since s comes from a URL: anything but
// dot-separated decimal numbers, more offsets than nfiles, and numbers
// beyond 2^50 are errors. An offset that points inside a record is not:
// reading moves it to the next record.
func ParseCursor(s string, nfiles int) (Cursor, error) {
	if nfiles < 0 {
		return Cursor{}, fmt.Errorf("parse cursor: a log of %d files", nfiles)
	}
	if s == "" {
		return Cursor{Offsets: make([]int64, nfiles)}, nil
	}
	// Each number has at most 16 digits: refuse longer input before
	// splitting it.
	if len(s) > 17*(nfiles+1) {
		return Cursor{}, fmt.Errorf("parse cursor: longer than a cursor of %d files can be", nfiles)
	}
	parts := strings.Split(s, ".")
	if len(parts) > nfiles+1 {
		return Cursor{}, fmt.Errorf("parse cursor: %d offsets for a log of %d files", len(parts)-1, nfiles)
	}
	nums := make([]int64, len(parts))
	for i, p := range parts {
		v, err := parseNumber(p)
		if err != nil {
			return Cursor{}, fmt.Errorf("parse cursor: part %d: %w", i+1, err)
		}
		nums[i] = v
	}
	c := Cursor{Line: nums[0], Offsets: make([]int64, nfiles)}
	copy(c.Offsets, nums[1:])
	return c, nil
}

var (
	errNotNumber = errors.New("not a decimal number")
	errTooLarge  = errors.New("too large")
)

// parseNumber parses a cursor's number: decimal digits only, no sign.
func parseNumber(s string) (int64, error) {
	if s == "" || len(s) > 16 {
		if len(s) > 16 && strings.Trim(s, "0123456789") == "" {
			return 0, errTooLarge
		}
		return 0, errNotNumber
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, errNotNumber
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errNotNumber
	}
	if v > maxCursorValue {
		return 0, errTooLarge
	}
	return v, nil
}
