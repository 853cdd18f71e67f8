// Package ansi turns one line of a job's log, as the job wrote it, into
// spans of text with the terminal style (ANSI SGR colours and attributes)
// it would have on screen, and renders them as HTML whose colours are CSS
// classes, never inline styles, so a page served with
// "Content-Security-Policy: default-src 'self'" shows them.
//
// A log line is written by whoever can push: Parse strips every escape
// sequence it does not render and every control byte but TAB, turns
// invalid UTF-8 into U+FFFD, and bounds its work (linear in the line, a
// capped number of spans); HTML escapes every text with html/template's
// escaper and writes no attribute but class, from a fixed set of names.
package ansi

import "strconv"

// Color is a terminal colour: the zero value is the terminal's default,
// and Palette(n) is entry n of the xterm 256-colour palette (0-7 the basic
// colours, 8-15 their bright forms, 16-231 a 6x6x6 cube, 232-255 greys).
type Color uint16

// Palette returns entry n of the 256-colour palette.
func Palette(n uint8) Color { return Color(n) + 1 }

// Index returns the palette entry of c, and false for the default colour.
func (c Color) Index() (n uint8, ok bool) {
	if c == 0 || c > 256 {
		return 0, false
	}
	return uint8(c - 1), true
}

// Style is the SGR state of a terminal: colours and attributes. The zero
// value is the default style (what SGR 0 resets to). Styles are
// comparable with ==.
type Style struct {
	FG, BG    Color // foreground and background (SGR 30-49, 90-107, 38, 48)
	Bold      bool  // SGR 1, off with 22
	Dim       bool  // SGR 2, off with 22
	Italic    bool  // SGR 3, off with 23
	Underline bool  // SGR 4 (any style of underline), off with 24
	Inverse   bool  // SGR 7: FG and BG swapped when shown, off with 27
	Strike    bool  // SGR 9, off with 29
}

// Span is a run of text, valid UTF-8 without control characters other
// than TAB, shown in one style.
type Span struct {
	Style
	Text string
}

// Class names: fg-N and bg-N for palette entry N; fg-inv and bg-inv for
// the page's own background and text colours, which an inverse style
// with default colours shows.
const (
	classFGInv = "fg-inv"
	classBGInv = "bg-inv"
)

var fgClass, bgClass [256]string

func init() {
	for i := range 256 {
		fgClass[i] = "fg-" + strconv.Itoa(i)
		bgClass[i] = "bg-" + strconv.Itoa(i)
	}
}

// Class returns the CSS class names that show s, separated by spaces, in
// a fixed order: the foreground "fg-N", the background "bg-N", then
// "bold", "dim", "italic", "underline", "strike"; for example "fg-1 bold"
// or "fg-196 bg-4", and "" for the default style. An inverse style swaps
// foreground and background; where one of them is the default it names
// the page's colours ("fg-inv", "bg-inv"). CSS styles every name Class
// returns.
func (s Style) Class() string {
	var b [64]byte
	return string(s.appendClass(b[:0]))
}

// appendClass appends what Class returns to out.
func (s Style) appendClass(out []byte) []byte {
	if s == (Style{}) {
		return out
	}
	fg, bg := "", ""
	if n, ok := s.FG.Index(); ok {
		fg = fgClass[n]
	}
	if n, ok := s.BG.Index(); ok {
		bg = bgClass[n]
	}
	if s.Inverse {
		fg, bg = classFGInv, classBGInv
		if n, ok := s.BG.Index(); ok {
			fg = fgClass[n]
		}
		if n, ok := s.FG.Index(); ok {
			bg = bgClass[n]
		}
	}
	first := len(out)
	for _, name := range [...]string{
		fg, bg,
		pick(s.Bold, "bold"), pick(s.Dim, "dim"), pick(s.Italic, "italic"),
		pick(s.Underline, "underline"), pick(s.Strike, "strike"),
	} {
		if name == "" {
			continue
		}
		if len(out) > first {
			out = append(out, ' ')
		}
		out = append(out, name...)
	}
	return out
}

// pick returns name if on, else "".
func pick(on bool, name string) string {
	if on {
		return name
	}
	return ""
}
