package logpage

import (
	"slices"
	"strings"
	"testing"
)

// FuzzRead builds a log of P and F records on both streams in any order
// from the fuzzer's bytes and checks that reading it in pages of any
// size returns the lines of reading it whole, from any cursor the pages
// hand out.
func FuzzRead(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, uint8(1))
	f.Add([]byte{1, 3, 1, 0, 2, 3, 2, 1}, uint8(2))
	f.Add([]byte{3, 3, 3, 1, 1, 0, 2}, uint8(3))
	f.Fuzz(func(t *testing.T, ops []byte, size uint8) {
		if len(ops) > 300 {
			return
		}
		var data strings.Builder
		for i, op := range ops {
			stream := []string{"stdout", "stderr"}[op&1]
			tag := []byte{'F', 'P'}[op>>1&1]
			data.WriteString(record(i/1000, i, stream, tag, nasty[int(op>>2)%len(nasty)]))
		}
		files := []string{writeRaw(t, t.TempDir(), "sh-1.log", data.String())}
		whole := readAll(t, files)
		got := readPaged(t, files, 1+int(size%8), 1+int(size/8)*8)
		if !slices.Equal(show(got), show(whole)) {
			t.Fatalf("paged:\n%s\nwhole:\n%s", strings.Join(show(got), "\n"), strings.Join(show(whole), "\n"))
		}
	})
}
