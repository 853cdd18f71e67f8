package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Entry is one decoded CRI record, or a whole line joined from records.
type Entry struct {
	// Time is the record's timestamp; for a joined line, that of its
	// first record.
	Time time.Time
	// Stream is "stdout" or "stderr".
	Stream string
	// Partial is the record's P tag; on a line from Reader or Tail it
	// means the stream ended before the line's newline.
	Partial bool
	// Content is the line's bytes without its line ending.
	Content []byte
}

// ParseLine decodes one record, given without its trailing newline. It is
// strict: the timestamp must be RFC 3339, the stream stdout or stderr and
// the tag F or P, each followed by one space. Content aliases line.
func ParseLine(line []byte) (Entry, error) {
	ts, stream, partial, content, err := splitRecord(line)
	if err != nil {
		return Entry{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Entry{}, fmt.Errorf("parse timestamp %q: %w", ts, err)
	}
	return Entry{Time: t, Stream: streamNames[stream], Partial: partial, Content: content}, nil
}

var (
	errNoTimestamp = errors.New("missing timestamp")
	errNoStream    = errors.New("missing stream")
	errNoTag       = errors.New("missing tag")
	errNoSpace     = errors.New("no space after tag")
)

// splitRecord splits a record into its fields without parsing the
// timestamp, which is all a backward scan needs.
func splitRecord(line []byte) (ts []byte, stream int, partial bool, content []byte, err error) {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(ts) == 0 {
		return nil, 0, false, nil, errNoTimestamp
	}
	name, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return nil, 0, false, nil, errNoStream
	}
	switch string(name) {
	case Stdout:
		stream = 0
	case Stderr:
		stream = 1
	default:
		return nil, 0, false, nil, fmt.Errorf("unknown stream %q", name)
	}
	if len(rest) == 0 {
		return nil, 0, false, nil, errNoTag
	}
	switch rest[0] {
	case tagFull:
	case tagPartial:
		partial = true
	default:
		return nil, 0, false, nil, fmt.Errorf("unknown tag %q", rest[:1])
	}
	if len(rest) < 2 || rest[1] != ' ' {
		return nil, 0, false, nil, errNoSpace
	}
	return ts, stream, partial, rest[2:], nil
}
