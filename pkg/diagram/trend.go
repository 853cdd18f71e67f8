package diagram

import (
	"html/template"
	"math"
	"strconv"
	"sync"
)

// Point is one run of a job in a trend chart.
type Point struct {
	// RunID names the run in the point's <title>.
	RunID string
	// DurationMS is how long the job took; negative counts as 0.
	DurationMS int64
	// State gives the class st-<state> and is written in the <title>.
	State string
	// Href, when it starts with "/" or "?", makes the point a link.
	Href string
}

// TrendRuns is how many points a trend chart shows: the last ones given.
const TrendRuns = 50

// Trend layout, in pixels.
const (
	trAxisW  = 64
	trSlot   = 16
	trBarW   = 12
	trPlotH  = 160
	trTicks  = 4
	trMinBar = 2
	// trLegendH is the room below the plot for the legend.
	trLegendH = 22
)

// Trend draws a job's durations as an inline SVG bar chart: points
// oldest first, of which the last TrendRuns are shown, oldest on the left;
// each bar with class st-<state> and a <title> giving the run id, the
// duration and the state; a y axis with round ticks in ms, s, min or h;
// below, a legend that counts the states in words ("complete 47",
// "failed 3"), so they are not told by colour alone.
func Trend(points []Point) template.HTML {
	if len(points) == 0 {
		return template.HTML(emptySVG)
	}
	if len(points) > TrendRuns {
		points = points[len(points)-TrendRuns:]
	}

	// The y axis goes from 0 to the next round step above the longest
	// duration.
	longest := int64(1)
	for _, p := range points {
		longest = max(longest, durationOf(p))
	}
	step := niceStep(longest, trTicks)
	top := (longest + step - 1) / step * step
	plotTop := float64(padding)
	plotBottom := plotTop + trPlotH
	yAt := func(ms int64) float64 {
		return plotBottom - float64(ms)*trPlotH/float64(top)
	}

	data := trendData{
		W:     2*padding + trAxisW + len(points)*trSlot,
		H:     2*padding + trPlotH + trLegendH,
		AxisX: padding + trAxisW - 6,
		GridX: padding + trAxisW,
	}
	data.GridX2 = data.W - padding
	for t := int64(0); t <= top; t += step {
		data.Ticks = append(data.Ticks, tick{At: round1(yAt(t)), Text: formatMS(t)})
	}
	for i, p := range points {
		d := durationOf(p)
		y := min(yAt(d), plotBottom-trMinBar)
		data.Bars = append(data.Bars, drawnBar{
			X:     float64(data.GridX + i*trSlot + (trSlot-trBarW)/2),
			Y:     round1(y),
			W:     trBarW,
			H:     round1(plotBottom - y),
			Class: stateClass(p.State),
			Fill:  "#8a8f98",
			Title: "run " + title(p.RunID) + " — " + formatMS(d) + " — " + clean(p.State, 40),
			Href:  safeHref(p.Href),
		})
	}
	data.Legend = trendLegend(points, plotBottom+trLegendH-4)
	if n := len(data.Legend); n > 0 {
		data.W = max(data.W, int(data.Legend[n-1].End)+padding)
	}
	return template.HTML(render(trendTmpl(), data))
}

// legendOrder is the order of the states in a legend; any state not
// known is counted as "other".
var legendOrder = []string{"complete", "failed", "aborted", "skipped", "superseded", "active", "pending", "other"}

// trendLegend counts the points by state and lays out one swatch and
// "<state> <count>" for each state present, on a line at baseline y.
func trendLegend(points []Point, y float64) []legendItem {
	counts := map[string]int{}
	for _, p := range points {
		if states[p.State] {
			counts[p.State]++
		} else {
			counts["other"]++
		}
	}
	var items []legendItem
	x := float64(padding)
	for _, st := range legendOrder {
		if counts[st] == 0 {
			continue
		}
		text := st + " " + strconv.Itoa(counts[st])
		it := legendItem{
			X: x, Y: y - 9, TX: x + 14, TY: y,
			Class: stateClass(st), Text: text,
		}
		x += 14 + math.Ceil(textWidth(text, 11)) + 12
		it.End = x - 12
		items = append(items, it)
	}
	return items
}

type legendItem struct {
	X, Y, TX, TY, End float64
	Class, Text       string
}

// durationOf is a point's duration, within [0, maxSpanMS].
func durationOf(p Point) int64 { return min(max(p.DurationMS, 0), maxSpanMS) }

// FailureRate counts the points whose state is "failed" and the points
// that reached a verdict ("complete" or "failed"); points still running,
// skipped, aborted or superseded are in neither count.
func FailureRate(points []Point) (failed, total int) {
	for _, p := range points {
		switch p.State {
		case "failed":
			failed++
			total++
		case "complete":
			total++
		}
	}
	return failed, total
}

type trendData struct {
	W, H, AxisX, GridX, GridX2 int
	Ticks                      []tick
	Bars                       []drawnBar
	Legend                     []legendItem
}

// trendTmpl draws the trend chart. It is parsed at its first use, not at every start
// of the binary (every hook, which draws nothing).
var trendTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("trend").Parse(
		`<svg xmlns="http://www.w3.org/2000/svg" class="diagram trend" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="` + fontFamily + `">` +
			`<g class="axis" font-size="10" fill="#5b6270" text-anchor="end">` +
			`{{range .Ticks}}<line class="tick" x1="{{$.GridX}}" y1="{{.At}}" x2="{{$.GridX2}}" y2="{{.At}}" stroke="#e1e4e8"></line>` +
			`<text x="{{$.AxisX}}" y="{{.At}}" dy="3">{{.Text}}</text>{{end}}</g>` +
			`<g class="points">{{range .Bars}}{{if .Href}}<a href="{{.Href}}">{{end}}` +
			`<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>` +
			`{{if .Href}}</a>{{end}}{{end}}</g>` +
			`<g class="legend" font-size="11">{{range .Legend}}` +
			`<rect class="swatch {{.Class}}" x="{{.X}}" y="{{.Y}}" width="10" height="10" fill="#8a8f98"></rect>` +
			`<text x="{{.TX}}" y="{{.TY}}">{{.Text}}</text>{{end}}</g></svg>`))
})
