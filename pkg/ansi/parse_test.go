package ansi

import (
	"reflect"
	"strings"
	"testing"
)

// fg and bg are palette colours, for short test tables.
func fg(n uint8) Style { return Style{FG: Palette(n)} }
func bg(n uint8) Style { return Style{BG: Palette(n)} }

func TestParse_SGR(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Span
	}{
		{"Plain", "hello world", []Span{{Text: "hello world"}}},
		{"Empty", "", nil},
		{"Bold", "\x1b[1mx", []Span{{Style{Bold: true}, "x"}}},
		{"Dim", "\x1b[2mx", []Span{{Style{Dim: true}, "x"}}},
		{"Italic", "\x1b[3mx", []Span{{Style{Italic: true}, "x"}}},
		{"Underline", "\x1b[4mx", []Span{{Style{Underline: true}, "x"}}},
		{"Inverse", "\x1b[7mx", []Span{{Style{Inverse: true}, "x"}}},
		{"Strike", "\x1b[9mx", []Span{{Style{Strike: true}, "x"}}},
		{"BoldDimOff", "\x1b[1;2ma\x1b[22mb", []Span{{Style{Bold: true, Dim: true}, "a"}, {Text: "b"}}},
		{"ItalicOff", "\x1b[3ma\x1b[23mb", []Span{{Style{Italic: true}, "a"}, {Text: "b"}}},
		{"UnderlineOff", "\x1b[4ma\x1b[24mb", []Span{{Style{Underline: true}, "a"}, {Text: "b"}}},
		{"InverseOff", "\x1b[7ma\x1b[27mb", []Span{{Style{Inverse: true}, "a"}, {Text: "b"}}},
		{"StrikeOff", "\x1b[9ma\x1b[29mb", []Span{{Style{Strike: true}, "a"}, {Text: "b"}}},
		{"FG30", "\x1b[30mx", []Span{{fg(0), "x"}}},
		{"FG37", "\x1b[37mx", []Span{{fg(7), "x"}}},
		{"FGDefault", "\x1b[31ma\x1b[39mb", []Span{{fg(1), "a"}, {Text: "b"}}},
		{"BG40", "\x1b[40mx", []Span{{bg(0), "x"}}},
		{"BG47", "\x1b[47mx", []Span{{bg(7), "x"}}},
		{"BGDefault", "\x1b[41ma\x1b[49mb", []Span{{bg(1), "a"}, {Text: "b"}}},
		{"FG90", "\x1b[90mx", []Span{{fg(8), "x"}}},
		{"FG97", "\x1b[97mx", []Span{{fg(15), "x"}}},
		{"BG100", "\x1b[100mx", []Span{{bg(8), "x"}}},
		{"BG107", "\x1b[107mx", []Span{{bg(15), "x"}}},
		{"FG256", "\x1b[38;5;196mx", []Span{{fg(196), "x"}}},
		{"BG256", "\x1b[48;5;4mx", []Span{{bg(4), "x"}}},
		{"FG256Colon", "\x1b[38:5:82mx", []Span{{fg(82), "x"}}},
		{"FG256OutOfRange", "\x1b[31m\x1b[38;5;256mx", []Span{{fg(1), "x"}}},
		{"FG256Missing", "\x1b[38;5mx", []Span{{Text: "x"}}},
		{"TruecolorRed", "\x1b[38;2;255;0;0mx", []Span{{fg(196), "x"}}},
		{"TruecolorBG", "\x1b[48;2;0;0;0mx", []Span{{bg(16), "x"}}},
		{"TruecolorGrey", "\x1b[38;2;128;128;128mx", []Span{{fg(244), "x"}}},
		{"TruecolorNear", "\x1b[38;2;250;130;10mx", []Span{{fg(208), "x"}}},
		{"TruecolorColon", "\x1b[38:2::0:255:0mx", []Span{{fg(46), "x"}}},
		{"TruecolorColonNoID", "\x1b[38:2:0:0:255mx", []Span{{fg(21), "x"}}},
		{"TruecolorOutOfRange", "\x1b[38;2;256;0;0mx", []Span{{Text: "x"}}},
		{"TruecolorThenBold", "\x1b[38;2;255;0;0;1mx", []Span{{Style{FG: Palette(196), Bold: true}, "x"}}},
		{"UnderlineColourSkipped", "\x1b[58;5;3;1mx", []Span{{Style{Bold: true}, "x"}}},
		{"UnderlineStyle", "\x1b[4:3mx\x1b[4:0my", []Span{{Style{Underline: true}, "x"}, {Text: "y"}}},
		{"Combined", "\x1b[1;31;44mx", []Span{{Style{FG: Palette(1), BG: Palette(4), Bold: true}, "x"}}},
		{"Reset0", "\x1b[1;31ma\x1b[0mb", []Span{{Style{FG: Palette(1), Bold: true}, "a"}, {Text: "b"}}},
		{"ResetEmpty", "\x1b[1;31ma\x1b[mb", []Span{{Style{FG: Palette(1), Bold: true}, "a"}, {Text: "b"}}},
		{"ResetEmptyParam", "\x1b[31ma\x1b[;1mb", []Span{{fg(1), "a"}, {Style{Bold: true}, "b"}}},
		{"ResetLeadingZeros", "\x1b[31ma\x1b[000mb", []Span{{fg(1), "a"}, {Text: "b"}}},
		{"Unknown", "\x1b[5;8;53mx", []Span{{Text: "x"}}},
		{"OverlongNumber", "\x1b[31m\x1b[99999999999999999999999999mx", []Span{{fg(1), "x"}}},
		{"ManyParams", "\x1b[" + strings.Repeat("1;", 40) + "31mx", []Span{{Style{Bold: true}, "x"}}},
		{"PrivateMarker", "\x1b[>4;2mx", []Span{{Text: "x"}}},
		{"Intermediate", "\x1b[1 mx", []Span{{Text: "x"}}},
		{"BadByte", "\x1b[1<mx", []Span{{Text: "x"}}},
		{"Merged", "\x1b[31ma\x1b[31mb\x1b[1m\x1b[22mc", []Span{{fg(1), "abc"}}},
		{"NoEmptySpans", "a\x1b[31m\x1b[32m\x1b[0mb", []Span{{Text: "ab"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Parse([]byte(tt.in), Style{})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParse_Strip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"Hyperlink", "see \x1b]8;;https://evil.example/\x1b\\the docs\x1b]8;;\x1b\\ now", "see the docs now"},
		{"HyperlinkBEL", "\x1b]8;id=1;javascript:alert(1)\x07click\x1b]8;;\x07", "click"},
		{"Title", "\x1b]0;title\x07text", "text"},
		{"OSCUnterminated", "a\x1b]0;title never ends", "a"},
		{"OSCCut", "a\x1b]0;title\x1b[31mb", "ab"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"APC", "a\x1b_hidden\x1b\\b", "ab"},
		{"CursorMoves", "\x1b[2J\x1b[H\x1b[10;20Ha\x1b[3Ab\x1b[K", "ab"},
		{"PrivateModes", "\x1b[?25la\x1b[?1049h", "a"},
		{"Reset", "\x1bca", "a"},
		{"Charset", "\x1b(Ba\x1b)0", "a"},
		{"SaveCursor", "\x1b7a\x1b8", "a"},
		{"LoneESC", "a\x1b", "a"},
		{"ESCThenControl", "a\x1b\x01b", "ab"},
		{"CSICut", "a\x1b[12", "a"},
		{"CSICutByText", "a\x1b[1\x01b", "ab"},
		{"C0", "a\x00b\x07c\x08d\x7fe\x0bf\x0cg\x1fh", "abcdefgh"},
		{"Tab", "a\tb", "a\tb"},
		{"Newline", "a\nb", "ab"},
		{"C1", "a\u009b31mb\u0085c", "a31mbc"},
		{"C1Raw", "a\x9b31mb", "a\ufffd31mb"},
		{"Unicode", "héllo ✓ 日本", "héllo ✓ 日本"},
		{"InvalidUTF8", "a\xffb\xc3(c\xe2\x82", "a\ufffdb\ufffd(c\ufffd\ufffd"},
		{"Surrogate", "a\xed\xa0\x80b", "a\ufffd\ufffd\ufffdb"},
		{"ProgressBar", "  10%\r  50%\r 100%", " 100%"},
		{"TrailingCR", "done\r", "done"},
		{"CRLF", "line\r\r", "line"},
		{"CRThenEscape", "done\r\x1b[K", "done"},
		{"CRStyledProgress", "\x1b[32m 10%\r 99%", " 99%"},
		{"LeadingCR", "\rabc", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, _ := Parse([]byte(tt.in), Style{})
			if got := text(spans); got != tt.want {
				t.Errorf("Parse(%q) text = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// text joins the spans' texts.
func text(spans []Span) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString(s.Text)
	}
	return b.String()
}

func TestParse_CarryAcrossLines(t *testing.T) {
	lines := []string{"\x1b[31mred", "still red", "\x1b[1mbold red\x1b[0m", "plain", "\x1b[44m\r\x1b[32mlater"}
	want := [][]Span{
		{{fg(1), "red"}},
		{{fg(1), "still red"}},
		{{Style{FG: Palette(1), Bold: true}, "bold red"}},
		{{Text: "plain"}},
		{{Style{FG: Palette(2), BG: Palette(4)}, "later"}},
	}
	wantEnd := []Style{fg(1), fg(1), {}, {}, {FG: Palette(2), BG: Palette(4)}}
	var st Style
	for i, line := range lines {
		var got []Span
		got, st = Parse([]byte(line), st)
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("line %d %q: spans = %+v, want %+v", i, line, got, want[i])
		}
		if st != wantEnd[i] {
			t.Errorf("line %d %q: end = %+v, want %+v", i, line, st, wantEnd[i])
		}
	}
}

func TestParse_StyledProgressKeepsStyle(t *testing.T) {
	got, end := Parse([]byte("\x1b[32m 10%\r\x1b[1m 99%\r"), Style{})
	want := []Span{{Style{FG: Palette(2), Bold: true}, " 99%"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %+v, want %+v", got, want)
	}
	if wantEnd := (Style{FG: Palette(2), Bold: true}); end != wantEnd {
		t.Errorf("end = %+v, want %+v", end, wantEnd)
	}
}

func TestParse_SpanCap(t *testing.T) {
	t.Run("Alternating", func(t *testing.T) {
		var b strings.Builder
		for i := range 3 * MaxSpans {
			if i%2 == 0 {
				b.WriteString("\x1b[31mr")
			} else {
				b.WriteString("\x1b[32mg")
			}
		}
		spans, end := Parse([]byte(b.String()), Style{})
		if len(spans) != MaxSpans {
			t.Fatalf("len(spans) = %d, want %d", len(spans), MaxSpans)
		}
		last := spans[len(spans)-1]
		if last.Style != (Style{}) {
			t.Errorf("last span style = %+v, want the default", last.Style)
		}
		if got, want := len(text(spans)), 3*MaxSpans; got != want {
			t.Errorf("text length = %d, want %d (nothing dropped)", got, want)
		}
		if want := fg(2); end != want {
			t.Errorf("end = %+v, want %+v", end, want)
		}
	})
	t.Run("AlternatingWithDefault", func(t *testing.T) {
		// Span MaxSpans-2 is in the default style: it takes the rest.
		line := strings.Repeat("d\x1b[31mr\x1b[0m", MaxSpans)
		spans, _ := Parse([]byte(line), Style{})
		if len(spans) != MaxSpans-1 {
			t.Fatalf("len(spans) = %d, want %d", len(spans), MaxSpans-1)
		}
		last := spans[len(spans)-1]
		if want := 2*MaxSpans - (MaxSpans - 2); last.Style != (Style{}) || len(last.Text) != want {
			t.Errorf("last span = %+v, %d bytes; want the default style, %d bytes", last.Style, len(last.Text), want)
		}
	})
	t.Run("RepeatedBoldOneSpan", func(t *testing.T) {
		line := []byte(strings.Repeat("\x1b[1m", 1_000_000) + "x")
		spans, _ := Parse(line, Style{})
		if want := []Span{{Style{Bold: true}, "x"}}; !reflect.DeepEqual(spans, want) {
			t.Errorf("spans = %+v, want %+v", spans, want)
		}
	})
	t.Run("ResetByCR", func(t *testing.T) {
		line := strings.Repeat("\x1b[31ma\x1b[32mb", MaxSpans) + "\r\x1b[0mdone"
		spans, _ := Parse([]byte(line), Style{})
		if want := []Span{{Text: "done"}}; !reflect.DeepEqual(spans, want) {
			t.Errorf("spans = %+v, want %+v", spans, want)
		}
	})
}

func TestParse_HugeCSI(t *testing.T) {
	line := []byte("a\x1b[" + strings.Repeat("9", 4<<20) + "mb")
	spans, end := Parse(line, Style{})
	if want := []Span{{Text: "ab"}}; !reflect.DeepEqual(spans, want) {
		t.Errorf("spans = %+v, want %+v", spans, want)
	}
	if end != (Style{}) {
		t.Errorf("end = %+v, want the default", end)
	}
}
