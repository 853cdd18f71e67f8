package diagram

import (
	"bytes"
	"strconv"
	"testing"
)

func TestBadge(t *testing.T) {
	t.Run("Golden", func(t *testing.T) {
		for _, state := range []string{"complete", "failed", "active", ""} {
			out := Badge("quire", BadgeMessage(state), BadgeColor(state))
			checkSafe(t, out)
			golden(t, "badge-"+BadgeMessage(state)+".svg", out)
		}
	})

	t.Run("Document", func(t *testing.T) {
		out := Badge("quire", "passing", BadgePassing)
		els := checkSafe(t, out)
		svg := els[0]
		if !bytes.HasPrefix(out, []byte(`<svg xmlns="http://www.w3.org/2000/svg"`)) {
			t.Errorf("badge does not start with a namespaced <svg>: %.60s", out)
		}
		// quire is 28.1px wide, passing 41.8px, each padded by 5px a side.
		if got, want := svg.Attr["width"], "90"; got != want {
			t.Errorf("width = %s, want %s", got, want)
		}
		if got, want := svg.Attr["aria-label"], "quire: passing"; got != want {
			t.Errorf("aria-label = %q, want %q", got, want)
		}
		rects := named(els, "rect", "")
		if got, want := rects[2].Attr["fill"], BadgePassing; got != want {
			t.Errorf("message fill = %q, want %q", got, want)
		}
	})

	t.Run("Colors", func(t *testing.T) {
		tests := []struct{ state, color, message string }{
			{"complete", BadgePassing, "passing"},
			{"failed", BadgeFailing, "failing"},
			{"active", BadgeRunning, "running"},
			{"pending", BadgeRunning, "running"},
			{"superseded", BadgeUnknown, "superseded"},
			{"", BadgeUnknown, "unknown"},
		}
		for _, tt := range tests {
			if got := BadgeColor(tt.state); got != tt.color {
				t.Errorf("BadgeColor(%q) = %q, want %q", tt.state, got, tt.color)
			}
			if got := BadgeMessage(tt.state); got != tt.message {
				t.Errorf("BadgeMessage(%q) = %q, want %q", tt.state, got, tt.message)
			}
		}
	})

	t.Run("BadColor", func(t *testing.T) {
		for _, c := range []string{"red", `#fff" onload="alert(1)`, "url(#x)", "#12345", "#ggg", ""} {
			els := checkSafe(t, Badge("quire", "x", c))
			if got := named(els, "rect", "")[2].Attr["fill"]; got != BadgeUnknown {
				t.Errorf("Badge with color %q fills %q, want %q", c, got, BadgeUnknown)
			}
		}
	})

	t.Run("Hostile", func(t *testing.T) {
		for i, p := range payloads {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				els := checkSafe(t, Badge(p, p, BadgeFailing))
				w, err := strconv.Atoi(els[0].Attr["width"])
				if err != nil || w > 2*(badgeTextMax+10)+1 {
					t.Errorf("width = %q, want at most %d", els[0].Attr["width"], 2*(badgeTextMax+10))
				}
			})
		}
	})
}
