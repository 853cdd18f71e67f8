package ansi

import (
	"fmt"
	"html/template"
	"strings"
	"sync"
)

// HTML renders spans as HTML: each span's text escaped with html/template's
// escaper, inside <span class="..."> with the names Class returns, or bare
// for the default style. It writes no element but span and no attribute
// but class, so the page needs CSS, and nothing else, to show it.
func HTML(spans []Span) template.HTML {
	size := 0
	for _, s := range spans {
		size += len(s.Text) + len(`<span class="fg-inv bg-inv bold dim italic underline strike"></span>`)
	}
	var b strings.Builder
	b.Grow(size)
	var class [64]byte
	for _, s := range spans {
		c := s.appendClass(class[:0])
		if len(c) > 0 {
			b.WriteString(`<span class="`)
			b.Write(c) // only fixed names: nothing to escape
			b.WriteString(`">`)
		}
		b.WriteString(template.HTMLEscapeString(s.Text))
		if len(c) > 0 {
			b.WriteString(`</span>`)
		}
	}
	// Safe: every text was escaped above and every class is a fixed name.
	return template.HTML(b.String())
}

// basic holds the 16 basic colours (0-7 and their bright forms 8-15) for a
// light and a dark page, chosen to read on white and on near black: the
// terminal palettes of GitHub's Primer themes. "White" is grey on a light
// page and "black" is grey on a dark one, so neither disappears.
var basic = [2][16]string{
	{ // light
		"#24292f", "#cf222e", "#116329", "#4d2d00", "#0969da", "#8250df", "#1b7c83", "#6e7781",
		"#57606a", "#a40e26", "#1a7f37", "#633c01", "#218bff", "#a475f9", "#3192aa", "#8c959f",
	},
	{ // dark
		"#484f58", "#ff7b72", "#3fb950", "#d29922", "#58a6ff", "#bc8cff", "#39c5cf", "#b1bac4",
		"#6e7681", "#ffa198", "#56d364", "#e3b341", "#79c0ff", "#d2a8ff", "#56d4dd", "#ffffff",
	},
}

// inverse holds the page's own background and text colours, which an
// inverse style with default colours swaps, for a light and a dark page.
var inverse = [2]struct{ bg, fg string }{
	{bg: "#ffffff", fg: "#1f2328"},
	{bg: "#0d1117", fg: "#e6edf3"},
}

// CSS returns the stylesheet for every class name Class can return: fg-N
// and bg-N for all 256 palette entries (xterm's values for 16-255, the
// 16 basic colours for a light page and, under prefers-color-scheme:
// dark, for a dark one), fg-inv and bg-inv, and the attributes bold, dim,
// italic, underline and strike. The page serves it as a file of its own,
// since its Content-Security-Policy blocks inline styles.
func CSS() string { return css() }

var css = sync.OnceValue(buildCSS)

// buildCSS writes the stylesheet CSS returns.
func buildCSS() string {
	var b strings.Builder
	b.WriteString("/* ANSI SGR colours of log lines (quire-hook pkg/ansi). */\n")
	writeBasic := func(scheme int, indent string) {
		for i, v := range basic[scheme] {
			fmt.Fprintf(&b, "%s.fg-%d{color:%s}\n", indent, i, v)
		}
		for i, v := range basic[scheme] {
			fmt.Fprintf(&b, "%s.bg-%d{background-color:%s}\n", indent, i, v)
		}
		fmt.Fprintf(&b, "%s.fg-inv{color:%s}\n", indent, inverse[scheme].bg)
		fmt.Fprintf(&b, "%s.bg-inv{background-color:%s}\n", indent, inverse[scheme].fg)
	}
	writeBasic(0, "")
	for i := 16; i < 256; i++ {
		fmt.Fprintf(&b, ".fg-%d{color:%s}\n", i, xterm(i))
	}
	for i := 16; i < 256; i++ {
		fmt.Fprintf(&b, ".bg-%d{background-color:%s}\n", i, xterm(i))
	}
	b.WriteString(".bold{font-weight:bold}\n")
	b.WriteString(".dim{opacity:.66}\n")
	b.WriteString(".italic{font-style:italic}\n")
	b.WriteString(".underline{text-decoration:underline}\n")
	b.WriteString(".strike{text-decoration:line-through}\n")
	b.WriteString(".underline.strike{text-decoration:underline line-through}\n")
	b.WriteString("@media (prefers-color-scheme: dark) {\n")
	writeBasic(1, "  ")
	b.WriteString("}\n")
	return b.String()
}

// xterm returns the value xterm gives palette entry i, for 16 <= i < 256.
func xterm(i int) string {
	if i >= 232 {
		v := 8 + 10*(i-232)
		return fmt.Sprintf("#%02x%02x%02x", v, v, v)
	}
	i -= 16
	return fmt.Sprintf("#%02x%02x%02x", cubeLevels[i/36], cubeLevels[i/6%6], cubeLevels[i%6])
}
