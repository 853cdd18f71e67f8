package diagram

import (
	"html/template"
	"math"
	"sync"
)

// Badge colours, those of shields.io.
const (
	BadgePassing = "#4c1"
	BadgeFailing = "#e05d44"
	BadgeRunning = "#dfb317"
	BadgeUnknown = "#9f9f9f"
)

// badgeTextMax bounds the width of each half of a badge, in pixels.
const badgeTextMax = 240

// BadgeColor returns the badge colour of a run state (or of the words
// passing, failing and running): green for complete, red for failed,
// yellow for pending or active, grey for anything else.
func BadgeColor(state string) string {
	switch state {
	case "complete", "passing":
		return BadgePassing
	case "failed", "failing":
		return BadgeFailing
	case "pending", "active", "running":
		return BadgeRunning
	}
	return BadgeUnknown
}

// BadgeMessage returns the word a badge shows for a run state: passing,
// failing, running, or the state itself for anything else ("unknown" for
// no state).
func BadgeMessage(state string) string {
	switch state {
	case "complete":
		return "passing"
	case "failed":
		return "failing"
	case "pending", "active":
		return "running"
	case "":
		return "unknown"
	}
	return state
}

// Badge returns a standalone SVG document (for image/svg+xml) of a
// shields.io "flat" badge: label on grey, message on color. The widths
// come from a table of Verdana 11px; texts wider than 240px are clipped.
// color must be "#" and 3 or 6 hex digits (BadgeColor gives one); any
// other value draws grey.
func Badge(label, message, color string) []byte {
	if !isHexColor(color) {
		color = BadgeUnknown
	}
	label, message = clip(label, badgeTextMax, 11), clip(message, badgeTextMax, 11)
	lw := badgeHalf(label)
	mw := badgeHalf(message)
	d := badgeData{
		Label: label, Message: message, Color: color,
		LW: lw, MW: mw, W: lw + mw,
		LX: float64(lw) / 2, MX: float64(lw) + float64(mw)/2,
	}
	return render(badgeTmpl(), d)
}

// badgeHalf is the width of one half of a badge: the text and 5px of
// padding on each side.
func badgeHalf(s string) int { return int(math.Round(textWidth(s, 11))) + 10 }

// isHexColor reports whether c is #rgb or #rrggbb.
func isHexColor(c string) bool {
	if len(c) != 4 && len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

type badgeData struct {
	Label, Message, Color string
	LW, MW, W             int
	LX, MX                float64
}

// badgeTmpl draws a badge. It is parsed at its first use, not at every start
// of the binary (every hook, which draws nothing).
var badgeTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("badge").Parse(
		`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="20" role="img" aria-label="{{.Label}}: {{.Message}}">` +
			`<title>{{.Label}}: {{.Message}}</title>` +
			`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"></stop><stop offset="1" stop-opacity=".1"></stop></linearGradient>` +
			`<clipPath id="r"><rect width="{{.W}}" height="20" rx="3" fill="#fff"></rect></clipPath>` +
			`<g clip-path="url(#r)"><rect width="{{.LW}}" height="20" fill="#555"></rect><rect x="{{.LW}}" width="{{.MW}}" height="20" fill="{{.Color}}"></rect><rect width="{{.W}}" height="20" fill="url(#s)"></rect></g>` +
			`<g fill="#fff" text-anchor="middle" font-family="` + fontFamily + `" font-size="11">` +
			`<text aria-hidden="true" x="{{.LX}}" y="15" fill="#010101" fill-opacity=".3">{{.Label}}</text><text x="{{.LX}}" y="14">{{.Label}}</text>` +
			`<text aria-hidden="true" x="{{.MX}}" y="15" fill="#010101" fill-opacity=".3">{{.Message}}</text><text x="{{.MX}}" y="14">{{.Message}}</text>` +
			`</g></svg>` + "\n"))
})
