package crilog

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzWriter_Chunking checks that where the pipe cuts the output does not
// matter: data written in pieces gives the same records as data written
// at once, and decodes to its lines. The input stays small (so the fuzzer
// minimizes quickly) while reaching long lines: fill bytes 'x' are
// inserted into data at offset at, and each piece size comes from a byte
// of cuts times scale.
func FuzzWriter_Chunking(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), uint16(0), uint16(0), []byte{1}, uint16(1))
	f.Add([]byte("\n\n\r\n\r"), uint16(0), uint16(0), []byte{1, 2, 3}, uint16(1))
	f.Add([]byte("\x00\xff\xc3\x28\n"), uint16(0), uint16(0), []byte{2}, uint16(1))
	f.Add([]byte("a\nb\r\nc"), uint16(2), uint16(40000), []byte{255, 1, 7}, uint16(64))
	f.Add([]byte("\r\n"), uint16(0), uint16(16384), []byte{255, 1}, uint16(64))
	f.Add([]byte("\r"), uint16(0), uint16(16384), []byte{255, 1}, uint16(64))
	f.Fuzz(func(t *testing.T, base []byte, at, fill uint16, cuts []byte, scale uint16) {
		at = min(at, uint16(len(base)))
		data := slices.Concat(base[:at], bytes.Repeat([]byte("x"), int(fill)), base[at:])
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = 1 + int(c)*int(max(scale, 1))
		}
		var whole, cut bytes.Buffer
		w1, w2 := NewWriter(&whole), NewWriter(&cut)
		writeCut(t, w1.Stream(Stdout), data, nil)
		writeCut(t, w2.Stream(Stdout), data, sizes)
		for _, w := range []*Writer{w1, w2} {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		r1, _ := splitRecords(t, whole.Bytes())
		r2, _ := splitRecords(t, cut.Bytes())
		if !slices.Equal(r1, r2) {
			t.Errorf("records differ: whole %v, cut %v", r1, r2)
		}
		got := readerLines(t, bytes.NewReader(cut.Bytes()), Stdout)
		if want := refLines(data); !slices.Equal(got, want) {
			t.Errorf("got lines %v, want %v", got, want)
		}
	})
}
