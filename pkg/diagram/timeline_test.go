package diagram

import (
	"strconv"
	"strings"
	"testing"
)

func TestTimeline(t *testing.T) {
	const t0 = 1_700_000_000_000
	jobs := []Bar{
		{Row: "build", Start: t0, End: t0 + 4000, State: "complete", Label: "4 s", Href: "/runs/7/jobs/build", Sub: []Bar{
			{Row: "make all", Start: t0 + 100, End: t0 + 3000, State: "complete", Label: "exit 0", Href: "/runs/7/logs/1"},
			{Row: "make check", Start: t0 + 3000, End: t0 + 3900, State: "failed", Label: "exit 2"},
		}},
		{Row: "test", Start: t0 + 4000, State: "active", Sub: []Bar{
			{Row: "go test ./...", Start: t0 + 4100, State: "active"},
		}},
		{Row: "deploy", State: "pending"},
	}

	t.Run("Golden", func(t *testing.T) {
		out := Timeline(jobs, t0+9000)
		checkSafe(t, []byte(out))
		golden(t, "timeline.svg", []byte(out))
	})

	t.Run("Counts", func(t *testing.T) {
		els := checkSafe(t, []byte(Timeline(jobs, t0+9000)))
		for _, c := range []struct {
			cls  string
			want int
		}{{"row", 3}, {"bar", 2}, {"sub", 3}} {
			if got := len(named(els, "g", c.cls)); got != c.want {
				t.Errorf("%s = %d, want %d", c.cls, got, c.want)
			}
		}
		if got, want := len(named(els, "a", "")), 2; got != want {
			t.Errorf("links = %d, want %d", got, want)
		}
	})

	t.Run("Geometry", func(t *testing.T) {
		// 9 s on an axis of 8 ticks: steps of 2 s up to 10 s, so 64px a
		// second from x 168.
		els := checkSafe(t, []byte(Timeline(jobs, t0+9000)))
		rects := named(els, "rect", "")
		tests := []struct {
			i           int
			x, w, class string
		}{
			{0, "168", "256", "st-complete"},     // build, 0-4 s
			{1, "174.4", "185.6", "st-complete"}, // make all, 0.1-3 s
			{2, "360", "57.6", "st-failed"},      // make check, 3-3.9 s
			{3, "424", "320", "st-active"},       // test, running 4-9 s
			{4, "430.4", "313.6", "st-active"},   // its call, running too
		}
		for _, tt := range tests {
			r := rects[tt.i]
			if r.Attr["x"] != tt.x || r.Attr["width"] != tt.w || r.Attr["class"] != tt.class {
				t.Errorf("bar %d: x=%s width=%s class=%s, want x=%s width=%s class=%s",
					tt.i, r.Attr["x"], r.Attr["width"], r.Attr["class"], tt.x, tt.w, tt.class)
			}
		}
		var ticks []string
		for _, e := range named(els, "text", "") {
			if e.Attr["class"] == "" {
				ticks = append(ticks, e.Text)
			}
		}
		if got, want := strings.Join(ticks, ","), "0,2 s,4 s,6 s,8 s,10 s"; got != want {
			t.Errorf("ticks = %s, want %s", got, want)
		}
	})

	t.Run("TickUnits", func(t *testing.T) {
		tests := []struct {
			span int64
			last string
		}{
			{40, "40 ms"},
			{1500, "1.6 s"},
			{600_000, "10 min"},
			{5 * 3600_000, "5 h"},
		}
		for _, tt := range tests {
			els := checkSafe(t, []byte(Timeline([]Bar{{Row: "a", Start: t0, End: t0 + tt.span, State: "complete"}}, t0)))
			var last string
			for _, e := range named(els, "text", "") {
				if e.Attr["class"] == "" {
					last = e.Text
				}
			}
			if last != tt.last {
				t.Errorf("span %d ms: last tick %q, want %q", tt.span, last, tt.last)
			}
		}
	})

	t.Run("OddTimes", func(t *testing.T) {
		// End before start, a call outside its job, now before the start,
		// absurd spans: all drawn, none wider than the plot.
		bars := []Bar{
			{Row: "a", Start: t0, End: t0 - 5000, State: "failed"},
			{Row: "b", Start: t0, State: "active", Sub: []Bar{{Row: "x", Start: t0 - 1000, End: t0 + 1<<62}}},
			{Row: "c", Start: 1, End: 1<<63 - 1},
		}
		for _, now := range []int64{0, t0 - 1, t0 + 1} {
			els := checkSafe(t, []byte(Timeline(bars, now)))
			for _, r := range named(els, "rect", "") {
				x, _ := strconv.ParseFloat(r.Attr["x"], 64)
				w, _ := strconv.ParseFloat(r.Attr["width"], 64)
				if x < padding+tlLabelW || x+w > padding+tlLabelW+tlPlotW+tlMinW {
					t.Errorf("now %d: bar x=%v width=%v leaves the plot", now, x, w)
				}
			}
		}
	})

	t.Run("Hostile", func(t *testing.T) {
		for i, p := range payloads {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				out := Timeline([]Bar{{Row: p, Start: t0, End: t0 + 10, State: p, Label: p, Href: p,
					Sub: []Bar{{Row: strings.Repeat(p, 50), Start: t0, End: t0 + 5, State: p, Label: p, Href: "/l?c=" + p}}}}, t0)
				els := checkSafe(t, []byte(out))
				for _, e := range named(els, "title", "") {
					if n := len([]rune(e.Text)); n > 3*maxTitleRunes {
						t.Errorf("title of %d runes", n)
					}
				}
				job := named(els, "text", "job")[0].Text
				if w := textWidth(job, tlTextPx); w > tlLabelW-8 {
					t.Errorf("row label %q is %vpx wide", job, w)
				}
			})
		}
	})

	t.Run("Titles", func(t *testing.T) {
		els := checkSafe(t, []byte(Timeline([]Bar{
			{Row: "build", Start: t0, End: t0 + 1500, State: "failed", Label: "exit 1"},
			{Row: "lint", Start: t0 + 500, End: t0 + 700},
		}, t0)))
		var got []string
		for _, e := range named(els, "title", "") {
			got = append(got, e.Text)
		}
		want := "build — failed · exit 1 (at 0, 1.5 s)|lint (at 500 ms, 200 ms)"
		if strings.Join(got, "|") != want {
			t.Errorf("titles = %q, want %q", strings.Join(got, "|"), want)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		if els := checkSafe(t, []byte(Timeline(nil, 5))); len(els) != 1 {
			t.Errorf("empty time line has %d elements, want only <svg>", len(els))
		}
		els := checkSafe(t, []byte(Timeline([]Bar{{Row: "waiting", State: "pending"}}, 5)))
		if got := len(named(els, "rect", "")); got != 0 {
			t.Errorf("a job not started has %d bars, want 0", got)
		}
	})
}
