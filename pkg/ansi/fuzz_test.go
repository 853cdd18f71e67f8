package ansi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks, for any line and start style, that what Parse keeps
// is valid UTF-8 without ESC or any control but TAB, that its spans are
// bounded, non-empty and merged, and that HTML of them is text and span
// elements only.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"plain",
		"\x1b[1;31mred\x1b[0m",
		"\x1b[38;2;1;2;3;48;5;200mx",
		"\x1b[38:2::1:2:3mx\x1b[4:3m",
		"\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\",
		"\x1bPdcs\x1b\\\x1b_apc\x07",
		"10%\r50%\r",
		"a\xffb\xc3\x9b31m\u009b",
		"<script>alert(1)</script>",
		`"'><img src=x onerror=alert(1)>`,
		"\x1b[" + strings.Repeat(";", 100) + "m",
		"\x1b[?25l\x1b(B\x1bc\x1b#8\x1b",
	} {
		f.Add([]byte(seed), uint16(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, line []byte, fgbg uint16, attrs uint8) {
		start := Style{
			FG: Color(fgbg & 0x1ff % 257), BG: Color(fgbg >> 9 * 4),
			Bold: attrs&1 != 0, Dim: attrs&2 != 0, Italic: attrs&4 != 0,
			Underline: attrs&8 != 0, Inverse: attrs&16 != 0, Strike: attrs&32 != 0,
		}
		spans, _ := Parse(line, start)
		if len(spans) > MaxSpans {
			t.Fatalf("%d spans, more than MaxSpans", len(spans))
		}
		for i, s := range spans {
			if s.Text == "" {
				t.Errorf("span %d is empty", i)
			}
			if i > 0 && s.Style == spans[i-1].Style {
				t.Errorf("spans %d and %d share a style", i-1, i)
			}
			if !utf8.ValidString(s.Text) {
				t.Errorf("span %d %q is not valid UTF-8", i, s.Text)
			}
			for _, r := range s.Text {
				if (r < 0x20 && r != '\t') || (r >= 0x7f && r < 0xa0) {
					t.Fatalf("span %d %q holds control %U", i, s.Text, r)
				}
			}
		}
		checkHTML(t, string(HTML(spans)))
	})
}
