package diagram

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// trendBars returns the bars of a trend chart, without the legend's
// swatches.
func trendBars(els []*element) []*element {
	var bars []*element
	for _, r := range named(els, "rect", "") {
		if !hasClass(r, "swatch") {
			bars = append(bars, r)
		}
	}
	return bars
}

// legend returns the texts of a trend chart's legend.
func legend(els []*element) string {
	var texts []string
	for _, e := range named(els, "text", "") {
		if e.Attr["dy"] == "" {
			texts = append(texts, e.Text)
		}
	}
	return strings.Join(texts, ",")
}

func TestTrend(t *testing.T) {
	points := []Point{
		{RunID: "r1", DurationMS: 61_000, State: "complete", Href: "/runs/r1"},
		{RunID: "r2", DurationMS: 75_500, State: "failed", Href: "/runs/r2"},
		{RunID: "r3", DurationMS: 0, State: "aborted"},
		{RunID: "r4", DurationMS: 58_000, State: "complete", Href: "/runs/r4"},
	}

	t.Run("Golden", func(t *testing.T) {
		out := Trend(points)
		checkSafe(t, []byte(out))
		golden(t, "trend.svg", []byte(out))
	})

	t.Run("Bars", func(t *testing.T) {
		els := checkSafe(t, []byte(Trend(points)))
		rects := trendBars(els)
		if len(rects) != len(points) {
			t.Fatalf("bars = %d, want %d", len(rects), len(points))
		}
		// The y axis runs to 90 s in steps of 30 s over 160px, the plot's
		// bottom at 168; a bar of 0 is still 2px high.
		tests := []struct{ x, y, h, class, title string }{
			{"74", "59.6", "108.4", "st-complete", "run r1 — 1 min 1 s — complete"},
			{"90", "33.8", "134.2", "st-failed", "run r2 — 1 min 15 s — failed"},
			{"106", "166", "2", "st-aborted", "run r3 — 0 — aborted"},
			{"122", "64.9", "103.1", "st-complete", "run r4 — 58 s — complete"},
		}
		titles := named(els, "title", "")
		for i, tt := range tests {
			r := rects[i]
			got := fmt.Sprintf("x=%s y=%s h=%s %s %q", r.Attr["x"], r.Attr["y"], r.Attr["height"], r.Attr["class"], titles[i].Text)
			want := fmt.Sprintf("x=%s y=%s h=%s %s %q", tt.x, tt.y, tt.h, tt.class, tt.title)
			if got != want {
				t.Errorf("bar %d: %s, want %s", i, got, want)
			}
		}
		var ticks []string
		for _, e := range named(els, "text", "") {
			if e.Attr["dy"] != "" {
				ticks = append(ticks, e.Text)
			}
		}
		if got, want := strings.Join(ticks, ","), "0,30 s,1 min,1 min 30 s"; got != want {
			t.Errorf("ticks = %s, want %s", got, want)
		}
		if got, want := len(named(els, "a", "")), 3; got != want {
			t.Errorf("links = %d, want %d", got, want)
		}
		if got, want := legend(els), "complete 2,failed 1,aborted 1"; got != want {
			t.Errorf("legend = %q, want %q", got, want)
		}
		swatches := named(els, "rect", "swatch")
		if got, want := swatches[1].Attr["class"], "swatch st-failed"; got != want {
			t.Errorf("swatch class = %q, want %q", got, want)
		}
	})

	t.Run("LastFifty", func(t *testing.T) {
		var many []Point
		for i := range 120 {
			many = append(many, Point{RunID: strconv.Itoa(i), DurationMS: int64(i) * 1000, State: "complete"})
		}
		els := checkSafe(t, []byte(Trend(many)))
		titles := named(els, "title", "")
		if len(titles) != TrendRuns {
			t.Fatalf("points = %d, want %d", len(titles), TrendRuns)
		}
		if got, want := titles[0].Text, "run 70 — 1 min 10 s — complete"; got != want {
			t.Errorf("oldest shown = %q, want %q", got, want)
		}
		if got, want := titles[TrendRuns-1].Text, "run 119 — 1 min 59 s — complete"; got != want {
			t.Errorf("newest shown = %q, want %q", got, want)
		}
	})

	t.Run("Hostile", func(t *testing.T) {
		for i, p := range payloads {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				els := checkSafe(t, []byte(Trend([]Point{
					{RunID: p, DurationMS: -5, State: p, Href: p},
					{RunID: "x", DurationMS: 1<<63 - 1, State: "complete", Href: "/r?id=" + p},
				})))
				bars := trendBars(els)
				if got := len(bars); got != 2 {
					t.Fatalf("bars = %d, want 2", got)
				}
				if got := bars[0].Attr["class"]; got != "st-unknown" {
					t.Errorf("class = %q, want st-unknown", got)
				}
				if got, want := legend(els), "complete 1,other 1"; got != want {
					t.Errorf("legend = %q, want %q", got, want)
				}
			})
		}
	})

	t.Run("Empty", func(t *testing.T) {
		if els := checkSafe(t, []byte(Trend(nil))); len(els) != 1 {
			t.Errorf("empty trend has %d elements, want only <svg>", len(els))
		}
	})
}

func TestFailureRate(t *testing.T) {
	tests := []struct {
		name          string
		states        []string
		failed, total int
	}{
		{"None", nil, 0, 0},
		{"Mixed", []string{"complete", "failed", "failed", "active", "aborted", "superseded", "skipped", "complete"}, 2, 4},
		{"AllGreen", []string{"complete", "complete"}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var points []Point
			for _, s := range tt.states {
				points = append(points, Point{State: s})
			}
			failed, total := FailureRate(points)
			if failed != tt.failed || total != tt.total {
				t.Errorf("FailureRate = %d/%d, want %d/%d", failed, total, tt.failed, tt.total)
			}
		})
	}
}
