// Package crilog writes and reads log files in the Kubernetes CRI format
// that containerd writes for container output, one record per line:
//
//	<timestamp> <stream> <tag> <content>\n
//
// The timestamp is UTC in time.RFC3339Nano, the stream is "stdout" or
// "stderr", and the tag is "F" for a full line or "P" for a part of one.
// A line longer than MaxLineChunk bytes is split into MaxLineChunk-byte
// "P" records followed by the rest as an "F" record; a last line left
// without a newline when its stream ends is written as "P". Content is the
// raw bytes of the line without its "\n" or "\r\n", never re-encoded.
//
// Any CRI consumer (the kubelet, Fluent Bit's cri parser) reads these
// files; Reader, Tail and Follower (a log still being written) read them
// back and join the parts into lines, all through Reader's one decoder.
package crilog

import "fmt"

// MaxLineChunk is the largest content of one record: a longer line is
// split into records of this size, as containerd does by default.
const MaxLineChunk = 16 * 1024

// Stream names as they appear in a record.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Tags as they appear in a record.
const (
	tagFull    = 'F'
	tagPartial = 'P'
)

var streamNames = [2]string{Stdout, Stderr}

// streamIndex maps a stream name to its slot in per-stream arrays.
func streamIndex(name string) (int, error) {
	switch name {
	case Stdout:
		return 0, nil
	case Stderr:
		return 1, nil
	}
	return 0, fmt.Errorf("unknown stream %q", name)
}

// appendRecord appends one record whose content is head followed by tail.
// hdr is the record prefix shared by a Write call, "<timestamp> <stream>
// F ": records are mostly full lines, and a P record swaps the tag.
func appendRecord(buf, hdr []byte, tag byte, head, tail []byte) []byte {
	buf = append(buf, hdr...)
	buf[len(buf)-2] = tag
	buf = append(buf, head...)
	buf = append(buf, tail...)
	return append(buf, '\n')
}

// appendChunk appends the first n bytes of head followed by tail as one
// record and returns what is left of both.
func appendChunk(buf, hdr []byte, tag byte, head, tail []byte, n int) ([]byte, []byte, []byte) {
	h := min(n, len(head))
	t := n - h
	buf = appendRecord(buf, hdr, tag, head[:h], tail[:t])
	return buf, head[h:], tail[t:]
}

// appendLine appends a complete line (head followed by tail, without its
// line ending) as P records of MaxLineChunk bytes and a final F record.
func appendLine(buf, hdr, head, tail []byte) []byte {
	for len(head)+len(tail) > MaxLineChunk {
		buf, head, tail = appendChunk(buf, hdr, tagPartial, head, tail, MaxLineChunk)
	}
	return appendRecord(buf, hdr, tagFull, head, tail)
}
