package diagram

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// payloads are what a pusher may write in any text: markup, attribute
// breakouts, control bytes, invalid UTF-8 and sheer length.
var payloads = []string{
	"<script>alert(1)</script>",
	`"'><img src=x onerror=alert(1)>`,
	"</title><script>alert(2)</script>",
	"]]><!--x--><?pi?>&amp;&lt;",
	"ctl\x00\x01\x1b[31m\x7f\u0085\ufffe",
	"bad\xff\xfeutf8\xc3",
	strings.Repeat("W", 100),
	strings.Repeat("<x>", 20000),
}

// element is a start element decoded from an SVG, with its attributes by
// local name and the text directly inside it.
type element struct {
	Name  string
	Attr  map[string]string
	Text  string
	Depth int
}

// parseSVG decodes out strictly as XML, failing the test if it is not
// well-formed, and returns its elements in document order.
func parseSVG(tb testing.TB, out []byte) []*element {
	tb.Helper()
	dec := xml.NewDecoder(bytes.NewReader(out))
	dec.Strict = true
	var all, stack []*element
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("output is not well-formed XML: %v\n%s", err, out)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &element{Name: tok.Name.Local, Attr: map[string]string{}, Depth: len(stack)}
			for _, a := range tok.Attr {
				e.Attr[a.Name.Local] = a.Value
			}
			all = append(all, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			}
		case xml.ProcInst, xml.Directive:
			tb.Fatalf("output holds %T: %s", tok, out)
		}
	}
	if len(all) == 0 || all[0].Name != "svg" {
		tb.Fatalf("output does not start with <svg>: %s", out)
	}
	return all
}

// allowed are the only elements the pictures are drawn with.
var allowed = map[string]bool{
	"svg": true, "g": true, "a": true, "rect": true, "path": true, "line": true,
	"text": true, "title": true, "linearGradient": true, "stop": true, "clipPath": true,
}

// checkSafe asserts that out is well-formed, uses only the allowed
// elements, no event handler, style or foreign attribute, only relative
// links, and holds only text XML allows.
func checkSafe(tb testing.TB, out []byte) []*element {
	tb.Helper()
	els := parseSVG(tb, out)
	low := strings.ToLower(string(out))
	for _, bad := range []string{"<script", "<img", "<style", "<foreignobject", "<!--", "javascript:"} {
		if strings.Contains(low, bad) {
			tb.Errorf("output contains %q as markup: %s", bad, out)
		}
	}
	for _, e := range els {
		if !allowed[e.Name] {
			tb.Errorf("element <%s> is not one the package draws", e.Name)
		}
		for name, v := range e.Attr {
			if strings.HasPrefix(strings.ToLower(name), "on") || name == "style" || name == "src" {
				tb.Errorf("<%s> has attribute %s=%q", e.Name, name, v)
			}
			if name == "href" && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "?") {
				tb.Errorf("<%s> links outside the site: %q", e.Name, v)
			}
		}
		if !utf8.ValidString(e.Text) {
			tb.Errorf("<%s> holds invalid UTF-8 %q", e.Name, e.Text)
		}
	}
	return els
}

// named returns the elements called name, and those with class cls when
// cls is not empty.
func named(els []*element, name, cls string) []*element {
	var out []*element
	for _, e := range els {
		if e.Name == name && (cls == "" || hasClass(e, cls)) {
			out = append(out, e)
		}
	}
	return out
}

func hasClass(e *element, cls string) bool {
	for _, c := range strings.Fields(e.Attr["class"]) {
		if c == cls {
			return true
		}
	}
	return false
}

// golden compares out with testdata/name, or rewrites it with -update.
func golden(tb testing.TB, name string, out []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			tb.Fatalf("update golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(out, want) {
		tb.Errorf("%s differs from the output (run go test -update if the change is meant):\ngot:  %s\nwant: %s", path, out, want)
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"Plain", "build", 10, "build"},
		{"Exact", "abc", 3, "abc"},
		{"Cut", "abcdef", 4, "abc…"},
		{"Controls", "a\x00b\x1bc\x7f", 10, "a\ufffdb\ufffdc\ufffd"},
		{"InvalidUTF8", "a\xffb", 10, "a\ufffdb"},
		{"NonCharacter", "a\ufffeb", 10, "a\ufffdb"},
		{"Markup", "<b>", 10, "<b>"},
		{"Huge", strings.Repeat("é", 1<<20), 5, "éééé…"},
		{"Zero", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clean(tt.in, tt.max); got != tt.want {
				t.Errorf("clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		name, in string
		width    float64
		want     string
	}{
		{"Fits", "build", 100, "build"},
		{"NarrowFits", strings.Repeat("i", 12), 40, strings.Repeat("i", 12)},
		{"Clipped", "abcdefghijklmnopqrstuvwxyz", 60, "abcdefg…"},
		{"Wide", strings.Repeat("W", 100), 50, "WWW…"},
		{"Huge", strings.Repeat("i", 10<<20), 30, "iiiiii…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clip(tt.in, tt.width, 11)
			if got != tt.want {
				t.Errorf("clip(%.20q, %v) = %q, want %q", tt.in, tt.width, got, tt.want)
			}
			if w := textWidth(got, 11); w > tt.width {
				t.Errorf("clip(%.20q, %v) is %vpx wide", tt.in, tt.width, w)
			}
		})
	}
}

func TestSafeHref(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/runs/12", "/runs/12"},
		{"?job=build&n=2", "?job=build&n=2"},
		{"/log/1#L3", "/log/1#L3"},
		{"javascript:alert(1)", ""},
		{"JaVaScRiPt:alert(1)", ""},
		{" /runs", ""},
		{"//evil.example/x", ""},
		{`/\evil.example`, ""},
		{"https://evil.example/", ""},
		{"data:text/html,<script>", ""},
		{"/a b", ""},
		{"/a\nb", ""},
		{"/a\xff", ""},
		{"runs/12", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := safeHref(tt.in); got != tt.want {
			t.Errorf("safeHref(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	tests := []struct {
		span, ticks, want int64
	}{
		{1, 8, 1},
		{40, 8, 5},
		{4000, 8, 500},
		{9000, 8, 2000},
		{65000, 4, 30000},
		{600000, 8, 120000},
		{3 * 3600000, 8, 1800000},
		{30 * 86400000, 8, 5 * 86400000},
		{maxSpanMS, 8, 5000 * 86400000},
		{1<<63 - 1, 8, 2e10 * 86400000},
	}
	for _, tt := range tests {
		if got := niceStep(tt.span, tt.ticks); got != tt.want {
			t.Errorf("niceStep(%d, %d) = %d, want %d", tt.span, tt.ticks, got, tt.want)
		}
	}
}

func TestFormatMS(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "0"},
		{250, "250 ms"},
		{1500, "1.5 s"},
		{12300, "12.3 s"},
		{60000, "1 min"},
		{90000, "1 min 30 s"},
		{3600000, "1 h"},
		{4800000, "1 h 20 min"},
		{-2000, "-2 s"},
	}
	for _, tt := range tests {
		if got := formatMS(tt.ms); got != tt.want {
			t.Errorf("formatMS(%d) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}
