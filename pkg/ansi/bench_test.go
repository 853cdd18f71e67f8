package ansi

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkParse parses a 1 MiB line of coloured text, a colour change
// every ~40 bytes ("parse"), and for a baseline counts one byte over it
// with bytes.Count ("count"), a single pass at memory speed. Compare their
// MB/s: the ratio is what colouring costs over merely reading the line.
// "html" adds rendering the spans.
func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 1<<20; i++ {
		fmt.Fprintf(&buf, "\x1b[%d;1m%08d\x1b[0m ok github.com/x/y <b>&</b> 0.0%ds ", 31+i%7, i, i%10)
	}
	line := buf.Bytes()[:1<<20]
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			Parse(line, Style{})
		}
	})
	b.Run("html", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			spans, _ := Parse(line, Style{})
			HTML(spans)
		}
	})
	b.Run("count", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			bytes.Count(line, []byte{0x1b})
		}
	})
}
