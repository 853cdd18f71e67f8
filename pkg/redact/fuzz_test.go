package redact_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/redact"
)

// fuzzSecrets are the secrets of FuzzRedactor_Chunking: plain, multi-line,
// with JSON-special bytes, self-overlapping, and one overlapping another.
var fuzzSecrets = [][2]string{
	{"tok", "s3cr3t-t0ken"},
	{"pem", "-----BEGIN-----\nAAAABBBB\r\nCCCC\n-----END-----"},
	{"quote", `pa"ss\wd`},
	{"ab", "abab"},
	{"over", "t0kenXYZ"},
}

// FuzzRedactor_Chunking checks that where the pipe cuts a stream does
// not matter to the redacted log: the same output written whole and in
// random pieces gives the same records, and decodes to the output with
// every secret replaced and none left. A secret (chosen by which) is
// inserted at offset at, after fill bytes 'x' that can make the line
// longer than a CRI chunk.
func FuzzRedactor_Chunking(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), uint8(0), uint16(0), uint16(0), []byte{1}, uint16(1))
	f.Add([]byte("say \n"), uint8(1), uint16(4), uint16(0), []byte{3, 1}, uint16(1))
	f.Add([]byte("xabababx"), uint8(3), uint16(2), uint16(0), []byte{1, 2}, uint16(1))
	f.Add([]byte("s3cr3t-t0kenXYZ"), uint8(4), uint16(7), uint16(0), []byte{5}, uint16(1))
	f.Add([]byte("\n"), uint8(0), uint16(0), uint16(16380), []byte{255, 1}, uint16(64))
	f.Add([]byte("end"), uint8(2), uint16(3), uint16(40000), []byte{200, 7}, uint16(64))
	f.Fuzz(func(t *testing.T, base []byte, which uint8, at, fill uint16, cuts []byte, scale uint16) {
		set := new(redact.Set)
		for _, s := range fuzzSecrets {
			if err := set.Add(s[0], s[1]); err != nil {
				t.Fatal(err)
			}
		}
		at = min(at, uint16(len(base)))
		secret := fuzzSecrets[int(which)%len(fuzzSecrets)][1]
		data := slices.Concat(base[:at], bytes.Repeat([]byte("x"), int(fill)), []byte(secret), base[at:])
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = 1 + int(c)*int(max(scale, 1))
		}

		whole := redactedLog(t, set, data, nil)
		cut := redactedLog(t, set, data, sizes)
		if r1, r2 := records(t, whole), records(t, cut); !slices.Equal(r1, r2) {
			t.Fatalf("records differ:\nwhole %.200q\ncut   %.200q", r1, r2)
		}
		got := lines(t, cut)
		if want := lineSplit(set.String(string(data))); !slices.Equal(got, want) {
			t.Errorf("decoded %.200q, want %.200q", got, want)
		}
		joined := strings.Join(got, "\n")
		if !strings.Contains(joined, "{{ ") {
			t.Errorf("no replacement in %.200q", joined)
		}
		for _, s := range fuzzSecrets {
			if strings.Contains(joined, s[1]) {
				t.Errorf("secret %s left in the log", s[0])
			}
		}
	})
}

// redactedLog writes data to a redacting CRI log in pieces of sizes
// (one Write if none) and returns the file's bytes.
func redactedLog(t *testing.T, set *redact.Set, data []byte, sizes []int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := crilog.NewWriter(&buf)
	w.Redact(set)
	s := w.Stream(crilog.Stdout)
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if len(sizes) > 0 {
			n = min(n, sizes[i%len(sizes)])
		}
		if _, err := s.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// records returns a log's records without their timestamps.
func records(t *testing.T, log []byte) []string {
	t.Helper()
	var out []string
	for _, l := range bytes.SplitAfter(log, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		e, err := crilog.ParseLine(bytes.TrimSuffix(l, []byte("\n")))
		if err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
		tag := "F"
		if e.Partial {
			tag = "P"
		}
		out = append(out, e.Stream+" "+tag+" "+string(e.Content))
	}
	return out
}

// lines decodes a log into its lines with crilog.Reader.
func lines(t *testing.T, log []byte) []string {
	t.Helper()
	r := crilog.NewReader(bytes.NewReader(log))
	var out []string
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(e.Content))
	}
}

// lineSplit is what a stream decodes to: lines split at '\n' without one
// '\r' before it, and a last line without '\n' if not empty.
func lineSplit(s string) []string {
	parts := strings.Split(s, "\n")
	var out []string
	for _, p := range parts[:len(parts)-1] {
		out = append(out, strings.TrimSuffix(p, "\r"))
	}
	if last := parts[len(parts)-1]; last != "" {
		out = append(out, last)
	}
	return out
}
