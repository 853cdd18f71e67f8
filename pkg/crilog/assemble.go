package crilog

import "bytes"

// assembler turns the bytes of one stream, as they arrive in arbitrary
// pieces, into records. It is the single place where lines are cut; the
// Writer's secrets redactor sits directly in front of feed (and is
// flushed before finish), so it sees the stream before any line or chunk
// boundary is drawn.
type assembler struct {
	// pending holds the start of the current line that could not be
	// written yet: at most MaxLineChunk content bytes, plus one '\r' whose
	// meaning (content or half of "\r\n") depends on the next byte.
	pending []byte
	// received counts every byte the stream received, line endings
	// included, before redaction.
	received int64
}

// feed appends the records for a prefix of p to buf and reports how many
// bytes of p it consumed; it stops early once buf holds limit bytes so
// that one call cannot grow buf without bound. hdr is the record prefix
// of the Write call, as appendRecord takes it.
func (a *assembler) feed(buf, hdr, p []byte, limit int) ([]byte, int) {
	rest := p
	for len(rest) > 0 && len(buf) < limit {
		i := bytes.IndexByte(rest, '\n')
		switch {
		case i < 0:
			buf = a.partial(buf, hdr, rest)
			rest = rest[len(rest):]
		case len(a.pending) == 0 && i <= MaxLineChunk:
			// The common case, a whole short line within p, is written
			// here without the general line logic.
			seg := rest[:i]
			if i > 0 && seg[i-1] == '\r' {
				seg = seg[:i-1]
			}
			buf = append(buf, hdr...)
			buf = append(buf, seg...)
			buf = append(buf, '\n')
			rest = rest[i+1:]
		default:
			buf = a.line(buf, hdr, rest[:i])
			rest = rest[i+1:]
		}
	}
	return buf, len(p) - len(rest)
}

// line appends the current line, ended by a newline after seg.
func (a *assembler) line(buf, hdr, seg []byte) []byte {
	head := a.pending
	if n := len(seg); n > 0 {
		if seg[n-1] == '\r' {
			seg = seg[:n-1]
		}
	} else if n := len(head); n > 0 && head[n-1] == '\r' {
		head = head[:n-1]
	}
	buf = appendLine(buf, hdr, head, seg)
	a.pending = a.pending[:0]
	return buf
}

// partial takes seg, a piece of the current line without a newline. Whole
// chunks are written as P records as soon as the line is known to be
// longer than MaxLineChunk; the rest waits in pending for more bytes.
func (a *assembler) partial(buf, hdr, seg []byte) []byte {
	head := a.pending
	for {
		known := len(head) + len(seg)
		if endsWithCR(head, seg) {
			known--
		}
		if known <= MaxLineChunk {
			break
		}
		buf, head, seg = appendChunk(buf, hdr, tagPartial, head, seg, MaxLineChunk)
	}
	if a.pending == nil {
		a.pending = make([]byte, 0, MaxLineChunk+1)
	}
	n := copy(a.pending[:cap(a.pending)], head)
	a.pending = append(a.pending[:n], seg...)
	return buf
}

// finish appends what is pending as P records: the stream has ended
// without a newline.
func (a *assembler) finish(buf, hdr []byte) []byte {
	head := a.pending
	for len(head) > 0 {
		buf, head, _ = appendChunk(buf, hdr, tagPartial, head, nil, min(len(head), MaxLineChunk))
	}
	a.pending = a.pending[:0]
	return buf
}

// endsWithCR reports whether head followed by tail ends with '\r'.
func endsWithCR(head, tail []byte) bool {
	if n := len(tail); n > 0 {
		return tail[n-1] == '\r'
	}
	n := len(head)
	return n > 0 && head[n-1] == '\r'
}
