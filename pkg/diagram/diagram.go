// Package diagram draws the web UI's pictures as SVG: the job graph of a
// run laid out by dependency level, the time line of its jobs and sh calls,
// the duration trend of a job over its last runs, and the shields-style
// badge of a ref.
//
// Every text it draws (job ids, states, labels, commands, run ids) was
// written by whoever can push, so the package renders only through
// html/template, replaces control bytes and invalid UTF-8 with U+FFFD (the
// output is always well-formed XML), clips long texts with an ellipsis and puts the full
// text, bounded, in a <title> child. Links are kept only when they are
// relative to the site ("/..." or "?..."). The inline pictures carry no
// style attributes or <style> elements, so they work under a
// Content-Security-Policy of default-src 'self': states are classes
// (st-pending, st-failed, ...) that the page's stylesheet colours.
//
// The inputs are plain structs; the package knows nothing of the store.
package diagram

import (
	"bytes"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// maxTitleRunes bounds the full text given in a <title>: a command
	// of any length is shown whole up to here, then ends with an ellipsis.
	maxTitleRunes = 2000
	// fontFamily is the family the width table approximates.
	fontFamily = "Verdana,Geneva,DejaVu Sans,sans-serif"
	ellipsis   = "…"
	// padding is the margin around every picture, in pixels.
	padding = 8
)

// states are the run and job states that have a class in the stylesheet,
// and the two the web UI gives a declared job without a row: waiting
// (its run goes on) and not-run (its run ended first).
var states = map[string]bool{
	"pending": true, "active": true, "complete": true, "failed": true,
	"skipped": true, "aborted": true, "superseded": true,
	"waiting": true, "not-run": true,
}

// stateClass returns the class of a state: "st-<state>" for a known state,
// "st-unknown" for anything else (a pushed value never names a class).
func stateClass(state string) string {
	if states[state] {
		return "st-" + state
	}
	return "st-unknown"
}

// clean makes a hostile text safe to put in XML: invalid UTF-8, control
// characters and the non-characters XML forbids become U+FFFD, and the
// result holds at most maxRunes runes, the last one an ellipsis when s was
// longer. It reads at most maxRunes+1 runes of s, so any length costs the
// same.
func clean(s string, maxRunes int) string {
	if maxRunes < 1 {
		return ""
	}
	out := make([]rune, 0, min(maxRunes, len(s)))
	i := 0
	for i < len(s) && len(out) < maxRunes {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1,
			r < 0x20, r >= 0x7f && r <= 0x9f,
			r >= 0xd800 && r <= 0xdfff, r == 0xfffe, r == 0xffff:
			r = utf8.RuneError
		}
		out = append(out, r)
	}
	if i < len(s) {
		out[len(out)-1] = '…'
	}
	return string(out)
}

// describe is the state of a job or call in words, then its label:
// "failed · 12.3 s".
func describe(state, label string) string {
	if label == "" {
		return clean(state, 40)
	}
	return clean(state, 40) + " · " + clean(label, 200)
}

// joinTitle is a title naming a thing and then describing it, without a
// dangling dash when there is nothing to describe.
func joinTitle(name, info string) string {
	if info == "" {
		return name
	}
	return name + " — " + info
}

// title is the full text of a hostile string for a <title> child.
func title(s string) string { return clean(s, maxTitleRunes) }

// clip cleans s and shortens it so that it fits in width pixels at the
// given font size, ending with an ellipsis when it was shortened.
func clip(s string, width, fontPx float64) string {
	// No glyph of the table is narrower than a quarter of the font size,
	// so more runes than that never fit: this bounds the work for any
	// length.
	maxRunes := int(width/(fontPx/4)) + 1
	s = clean(s, maxRunes)
	if textWidth(s, fontPx) <= width {
		return s
	}
	room := width - textWidth(ellipsis, fontPx)
	w := 0.0
	for i, r := range s {
		w += runeWidth(r) * fontPx / 11
		if w > room {
			return s[:i] + ellipsis
		}
	}
	return s
}

// textWidth approximates the width in pixels of s in Verdana at fontPx.
func textWidth(s string, fontPx float64) float64 {
	w := 0.0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w * fontPx / 11
}

// verdana11 holds the advance widths of printable ASCII (from ' ') in
// Verdana at 11px, the table shields.io badges are measured with.
var verdana11 = [...]float64{
	3.87, 4.33, 5.05, 9.00, 6.99, 11.84, 7.99, 2.95, 4.99, 4.99, 6.99, 9.00, 4.00, 4.99, 4.00, 4.99,
	6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 4.99, 4.99, 9.00, 9.00, 9.00, 6.00,
	11.00, 7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.61, 5.00, 7.62, 6.12, 9.27, 8.23, 8.66,
	6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.89, 7.54, 6.77, 7.54, 4.99, 4.99, 4.99, 9.00, 6.99,
	6.99, 6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.69, 6.96, 6.68,
	6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 9.00, 6.51, 6.51, 5.78, 6.98, 4.99, 6.98, 9.00,
}

// runeWidth is the width of r in Verdana at 11px; runes outside ASCII are
// taken as wide (a CJK ideograph is about 11px), so texts are clipped
// early rather than overflow.
func runeWidth(r rune) float64 {
	if r >= ' ' && int(r-' ') < len(verdana11) {
		return verdana11[r-' ']
	}
	return 11
}

// safeHref returns href when it is a link within the site: it starts with
// "/" (but not "//" or "/\", which browsers read as another host) or "?",
// and has no control bytes, spaces or invalid UTF-8. Anything else, such
// as "javascript:..." or "https://elsewhere", gives "".
func safeHref(href string) string {
	if len(href) > 4096 || !utf8.ValidString(href) {
		return ""
	}
	switch {
	case strings.HasPrefix(href, "//"), strings.HasPrefix(href, `/\`):
		return ""
	case strings.HasPrefix(href, "/"), strings.HasPrefix(href, "?"):
	default:
		return ""
	}
	for _, r := range href {
		if r <= ' ' || r == 0x7f || r == '\\' || (r >= 0x80 && r <= 0x9f) {
			return ""
		}
	}
	return href
}

// round1 rounds v to one decimal so the output is stable and short.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// niceSteps are the axis steps in milliseconds, in increasing order: round
// numbers of ms, s, min and h.
var niceSteps = []int64{
	1, 2, 5, 10, 20, 50, 100, 200, 500,
	1000, 2000, 5000, 10000, 15000, 30000,
	60000, 120000, 300000, 600000, 900000, 1800000,
	3600000, 7200000, 10800000, 21600000, 43200000, 86400000,
}

// niceStep returns the smallest round step that divides span into at most
// maxTicks intervals.
func niceStep(span int64, maxTicks int64) int64 {
	for _, s := range niceSteps {
		if (span-1)/s+1 <= maxTicks {
			return s
		}
	}
	// Past a day, the step is a whole number of days of the form 1, 2 or
	// 5 times a power of ten.
	const day = 86400000
	days := int64(1)
	for (span-1)/(days*day)+1 > maxTicks {
		switch d := days; {
		case isPow10(d):
			days = 2 * d
		case isPow10(d / 2):
			days = d / 2 * 5
		default:
			days = d / 5 * 10
		}
	}
	return days * day
}

// isPow10 reports whether n is 1, 10, 100, ...
func isPow10(n int64) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

// formatMS writes a duration for an axis tick or a <title>: "0", "250 ms",
// "1.5 s", "2 min", "1 min 30 s", "3 h", "1 h 20 min".
func formatMS(ms int64) string {
	switch {
	case ms == 0:
		return "0"
	case ms < 0:
		return "-" + formatMS(-ms)
	case ms < 1000:
		return strconv.FormatInt(ms, 10) + " ms"
	case ms < 60000:
		return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + " s"
	case ms < 3600000:
		m, s := ms/60000, (ms%60000)/1000
		if s == 0 {
			return strconv.FormatInt(m, 10) + " min"
		}
		return strconv.FormatInt(m, 10) + " min " + strconv.FormatInt(s, 10) + " s"
	default:
		h, m := ms/3600000, (ms%3600000)/60000
		if m == 0 {
			return strconv.FormatInt(h, 10) + " h"
		}
		return strconv.FormatInt(h, 10) + " h " + strconv.FormatInt(m, 10) + " min"
	}
}

// render executes a template; a failure (which only a bug in this package
// can cause) gives an empty picture rather than a broken page.
func render(t *template.Template, data any) []byte {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return []byte(emptySVG)
	}
	return b.Bytes()
}

// emptySVG is the picture of nothing: valid, and taking no room.
const emptySVG = `<svg xmlns="http://www.w3.org/2000/svg" class="diagram" width="0" height="0" viewBox="0 0 0 0"></svg>`
