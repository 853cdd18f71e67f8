package ansi

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestStyle_Class(t *testing.T) {
	tests := []struct {
		name string
		in   Style
		want string
	}{
		{"Default", Style{}, ""},
		{"FGBold", Style{FG: Palette(1), Bold: true}, "fg-1 bold"},
		{"FGBG", Style{FG: Palette(196), BG: Palette(4)}, "fg-196 bg-4"},
		{"BGOnly", Style{BG: Palette(0)}, "bg-0"},
		{"Attributes", Style{Bold: true, Dim: true, Italic: true, Underline: true, Strike: true}, "bold dim italic underline strike"},
		{"Everything", Style{FG: Palette(255), BG: Palette(16), Bold: true, Strike: true}, "fg-255 bg-16 bold strike"},
		{"InverseColours", Style{FG: Palette(1), BG: Palette(4), Inverse: true}, "fg-4 bg-1"},
		{"InverseFGOnly", Style{FG: Palette(1), Inverse: true}, "fg-inv bg-1"},
		{"InverseBGOnly", Style{BG: Palette(3), Inverse: true}, "fg-3 bg-inv"},
		{"InverseDefault", Style{Inverse: true}, "fg-inv bg-inv"},
		{"InverseBold", Style{Inverse: true, Bold: true}, "fg-inv bg-inv bold"},
		{"OutOfRangeColour", Style{FG: 1000}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Class(); got != tt.want {
				t.Errorf("Class() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHTML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"Plain", "hello", "hello"},
		{"Empty", "", ""},
		{"Coloured", "a\x1b[1;31mb\x1b[0mc", `a<span class="fg-1 bold">b</span>c`},
		{"Script", "\x1b[31m<script>alert(1)</script>", `<span class="fg-1">&lt;script&gt;alert(1)&lt;/script&gt;</span>`},
		{"Img", `"><img src=x onerror=alert(1)>`, `&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`},
		{"Attribute", `"'><img src=x onerror=alert(1)>`, `&#34;&#39;&gt;&lt;img src=x onerror=alert(1)&gt;`},
		{"Ampersand", "a && b &amp;", "a &amp;&amp; b &amp;amp;"},
		{"HyperlinkDropped", "\x1b]8;;javascript:alert(1)\x1b\\<b>x</b>\x1b]8;;\x1b\\", "&lt;b&gt;x&lt;/b&gt;"},
		{"CSSInjection", "\x1b[38;5;1\"style=x;1m\"x", `tyle=x;1m&#34;x`}, // \" is an intermediate byte, s the final one
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, _ := Parse([]byte(tt.in), Style{})
			if got := string(HTML(spans)); got != tt.want {
				t.Errorf("HTML(Parse(%q)) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestHTML_HostileSpans(t *testing.T) {
	// Spans built by hand, not by Parse: HTML must escape whatever it gets.
	spans := []Span{
		{Style{FG: Palette(1)}, "</span><script>alert(1)</script>"},
		{Style{}, "\x00\x1b[31m"},
		{Style{FG: 9999}, "x"},
	}
	got := string(HTML(spans))
	want := `<span class="fg-1">&lt;/span&gt;&lt;script&gt;alert(1)&lt;/script&gt;</span>` + "\uFFFD\x1b[31mx"
	if got != want {
		t.Errorf("HTML = %q, want %q", got, want)
	}
	checkHTML(t, got)
}

// checkHTML fails t unless h is text and span elements whose only
// attribute is a class made of the names Class returns.
func checkHTML(t testing.TB, h string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(h))
	depth := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if depth != 0 {
				t.Errorf("HTML %q: %d span(s) left open", h, depth)
			}
			return
		case html.TextToken:
		case html.StartTagToken:
			tok := z.Token()
			if tok.Data != "span" || len(tok.Attr) != 1 || tok.Attr[0].Key != "class" || !classRE.MatchString(tok.Attr[0].Val) {
				t.Errorf("HTML %q: unexpected start tag %s", h, tok)
			}
			depth++
		case html.EndTagToken:
			tok := z.Token()
			if tok.Data != "span" || depth == 0 {
				t.Errorf("HTML %q: unexpected end tag %s", h, tok)
			}
			depth--
		default:
			t.Errorf("HTML %q: unexpected %s token %q", h, tt, z.Raw())
		}
	}
}

// classRE matches what Class may return.
var classRE = regexp.MustCompile(`^(fg-(\d{1,3}|inv)( |$))?(bg-(\d{1,3}|inv)( |$))?(bold( |$))?(dim( |$))?(italic( |$))?(underline( |$))?(strike)?$`)

func TestCSS(t *testing.T) {
	css := CSS()
	var names []string
	for i := range 256 {
		names = append(names, fmt.Sprintf("fg-%d", i), fmt.Sprintf("bg-%d", i))
	}
	names = append(names, "fg-inv", "bg-inv", "bold", "dim", "italic", "underline", "strike")
	for _, n := range names {
		if !strings.Contains(css, "."+n+"{") {
			t.Errorf("CSS has no rule for class %q", n)
		}
	}
	for _, tt := range []struct{ rule, want string }{
		{".fg-196{", ".fg-196{color:#ff0000}"},
		{".bg-16{", ".bg-16{background-color:#000000}"},
		{".fg-231{", ".fg-231{color:#ffffff}"},
		{".fg-232{", ".fg-232{color:#080808}"},
		{".fg-244{", ".fg-244{color:#808080}"},
		{".bg-255{", ".bg-255{background-color:#eeeeee}"},
		{".fg-208{", ".fg-208{color:#ff8700}"},
	} {
		if !strings.Contains(css, tt.want) {
			t.Errorf("CSS rule %s…: want %s", tt.rule, tt.want)
		}
	}
	dark := strings.Index(css, "@media (prefers-color-scheme: dark)")
	if dark < 0 || !strings.Contains(css[dark:], ".fg-1{") || !strings.Contains(css[dark:], ".fg-inv{") {
		t.Errorf("CSS has no dark scheme for the basic colours")
	}
	if strings.Count(css, "{") != strings.Count(css, "}") {
		t.Errorf("CSS braces unbalanced")
	}
}

func TestCSS_EveryClassOfParse(t *testing.T) {
	// Every class Parse can produce, through Class, has a rule.
	css := CSS()
	for code := range 256 {
		for _, seq := range []string{fmt.Sprintf("\x1b[38;5;%dm", code), fmt.Sprintf("\x1b[48;5;%d;7m", code), fmt.Sprintf("\x1b[%dm", code)} {
			spans, _ := Parse([]byte(seq+"x"), Style{})
			for _, name := range strings.Fields(spans[0].Class()) {
				if !strings.Contains(css, "."+name+"{") {
					t.Errorf("%q: class %q has no rule", seq, name)
				}
			}
		}
	}
}
