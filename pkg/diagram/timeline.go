package diagram

import (
	"html/template"
	"sync"
)

// Bar is one row of a time line (a job) or one call inside a row (an sh
// call of that job, in Sub).
type Bar struct {
	// Row names the bar: the job id, or the command of an sh call.
	Row string
	// Start and End are Unix times in milliseconds. Start 0 means not
	// started (no bar is drawn); End 0 means still running (the bar ends
	// at now, or at the end of its job for an sh call of a finished job).
	Start, End int64
	// State gives the class st-<state>; it is written in words as well.
	State string
	// Label follows the state, e.g. "12.3 s" or "exit 1 · 0.4 s".
	Label string
	// Href, when it starts with "/" or "?", makes the bar a link.
	Href string
	// Sub are the sh calls of a job, drawn as thinner bars in its row.
	Sub []Bar
}

// maxSpanMS bounds the time an axis covers (a century), so that absurd
// times cannot overflow the arithmetic.
const maxSpanMS = 100 * 366 * 24 * 3600 * 1000

// Timeline layout, in pixels.
const (
	tlLabelW = 160
	tlPlotW  = 640
	tlInfoW  = 150
	tlAxisH  = 22
	tlRowH   = 26
	tlBarH   = 16
	tlSubH   = 6
	tlMinW   = 2
	tlTicks  = 8
	tlTextPx = 12
	tlInfoPx = 11
)

// Timeline draws jobs and their sh calls against time as an inline SVG:
// one row per job, in input order, with the job id on the left, its state
// in words and its label on the right, a bar from its start to its end
// (to nowMS while it runs) and its sh calls as thin bars inside; an axis
// on top marks round times (ms, s, min or h) since the first start.
func Timeline(bars []Bar, nowMS int64) template.HTML {
	if len(bars) == 0 {
		return template.HTML(emptySVG)
	}

	// The axis starts at the earliest start and ends at the next round
	// step after the latest end.
	t0, t1 := int64(0), int64(0)
	for _, b := range bars {
		if b.Start <= 0 {
			continue
		}
		end := barEnd(b, nowMS, 0)
		if t0 == 0 || b.Start < t0 {
			t0 = b.Start
		}
		t1 = max(t1, end)
		for _, s := range b.Sub {
			if s.Start > 0 {
				t0 = min(t0, s.Start)
				t1 = max(t1, barEnd(s, nowMS, b.End))
			}
		}
	}
	span := min(max(t1-t0, 1), maxSpanMS)
	step := niceStep(span, tlTicks)
	axisEnd := (span + step - 1) / step * step
	plotX := float64(padding + tlLabelW)
	xAt := func(t int64) float64 {
		return plotX + float64(min(max(t-t0, 0), axisEnd))*tlPlotW/float64(axisEnd)
	}

	data := timelineData{
		W:     2*padding + tlLabelW + tlPlotW + tlInfoW,
		H:     2*padding + tlAxisH + len(bars)*tlRowH,
		AxisY: padding + tlAxisH - 8,
	}
	data.GridY1, data.GridY2 = float64(padding+tlAxisH-4), float64(data.H-padding)
	for t := int64(0); t1 > 0 && t <= axisEnd; t += step {
		data.Ticks = append(data.Ticks, tick{At: round1(xAt(t0 + t)), Text: formatMS(t)})
	}

	for i, b := range bars {
		y := float64(padding + tlAxisH + i*tlRowH)
		info := describe(b.State, b.Label)
		row := timelineRow{
			TextY: y + tlRowH/2 + 4,
			Row:   clip(b.Row, tlLabelW-8, tlTextPx),
			InfoX: float64(padding + tlLabelW + tlPlotW + 8),
			Info:  clip(info, tlInfoW-8, tlInfoPx),
		}
		if b.Start > 0 {
			row.Bar = timelineBar(b, nowMS, 0, y+(tlRowH-tlBarH)/2, tlBarH, xAt, t0)
			row.Bar.Fill, row.Bar.Opacity = "#c9ced6", "1"
			if len(b.Sub) > 0 {
				// Paler, so that its sh calls stand out in the
				// state's colour whatever the stylesheet sets.
				row.Bar.Opacity = ".45"
			}
			for _, s := range b.Sub {
				if s.Start > 0 {
					sub := timelineBar(s, nowMS, b.End, y+(tlRowH-tlSubH)/2, tlSubH, xAt, t0)
					sub.Fill, sub.Opacity = "#5b6270", "1"
					row.Subs = append(row.Subs, sub)
				}
			}
		}
		data.Rows = append(data.Rows, row)
	}
	return template.HTML(render(timelineTmpl(), data))
}

// barEnd is where a bar ends: its End, or while it runs nowMS, but never
// after the end of its finished parent (parentEnd, 0 for none) and never
// before its start.
func barEnd(b Bar, nowMS, parentEnd int64) int64 {
	end := b.End
	if end == 0 {
		end = nowMS
		if parentEnd != 0 {
			end = min(end, parentEnd)
		}
	}
	return max(end, b.Start)
}

// timelineBar places one bar of height h at y.
func timelineBar(b Bar, nowMS, parentEnd int64, y, h float64, xAt func(int64) float64, t0 int64) *drawnBar {
	end := barEnd(b, nowMS, parentEnd)
	x1, x2 := xAt(b.Start), xAt(end)
	info := describe(b.State, b.Label)
	took := formatMS(end - b.Start)
	if b.End == 0 {
		took += " so far"
	}
	return &drawnBar{
		X: round1(x1), Y: round1(y), W: round1(max(x2-x1, tlMinW)), H: h,
		Class: stateClass(b.State),
		Title: joinTitle(title(b.Row), info) + " (at " + formatMS(b.Start-t0) + ", " + took + ")",
		Href:  safeHref(b.Href),
	}
}

type timelineData struct {
	W, H           int
	AxisY          int
	GridY1, GridY2 float64
	Ticks          []tick
	Rows           []timelineRow
}

// tick is a mark on an axis: its coordinate along the axis and its text.
type tick struct {
	At   float64
	Text string
}

type timelineRow struct {
	TextY, InfoX float64
	Row, Info    string
	Bar          *drawnBar
	Subs         []*drawnBar
}

type drawnBar struct {
	X, Y, W, H  float64
	Class, Fill string
	Opacity     string
	Title, Href string
}

// timelineTmpl draws the timeline. It is parsed at its first use, not at every start
// of the binary (every hook, which draws nothing).
var timelineTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("timeline").Parse(
		`{{define "bar"}}{{if .Href}}<a href="{{.Href}}">{{end}}` +
			`<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" rx="2" ry="2" fill="{{.Fill}}" fill-opacity="{{.Opacity}}"><title>{{.Title}}</title></rect>` +
			`{{if .Href}}</a>{{end}}{{end}}` +
			`<svg xmlns="http://www.w3.org/2000/svg" class="diagram timeline" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="` + fontFamily + `">` +
			`<g class="axis" font-size="10" fill="#5b6270" text-anchor="middle">` +
			`{{range .Ticks}}<line class="tick" x1="{{.At}}" y1="{{$.GridY1}}" x2="{{.At}}" y2="{{$.GridY2}}" stroke="#e1e4e8"></line>` +
			`<text x="{{.At}}" y="{{$.AxisY}}">{{.Text}}</text>{{end}}</g>` +
			`<g class="rows">{{range .Rows}}<g class="row">` +
			`<text class="job" x="8" y="{{.TextY}}" font-size="12">{{.Row}}</text>` +
			`{{with .Bar}}<g class="bar">{{template "bar" .}}</g>{{end}}` +
			`{{range .Subs}}<g class="sub">{{template "bar" .}}</g>{{end}}` +
			`<text class="info" x="{{.InfoX}}" y="{{.TextY}}" font-size="11">{{.Info}}</text>` +
			`</g>{{end}}</g></svg>`))
})
