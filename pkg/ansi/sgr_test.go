package ansi

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse_256Colours(t *testing.T) {
	for n := range 256 {
		for _, tt := range []struct {
			seq  string
			want Style
		}{
			{fmt.Sprintf("\x1b[38;5;%dm", n), Style{FG: Palette(uint8(n))}},
			{fmt.Sprintf("\x1b[48;5;%dm", n), Style{BG: Palette(uint8(n))}},
			{fmt.Sprintf("\x1b[38:5:%dm", n), Style{FG: Palette(uint8(n))}},
		} {
			if _, got := Parse([]byte(tt.seq), Style{}); got != tt.want {
				t.Errorf("Parse(%q) end = %+v, want %+v", tt.seq, got, tt.want)
			}
		}
	}
}

func TestRGBColor_PaletteRoundTrip(t *testing.T) {
	// The exact value of each fixed entry maps back to that entry.
	for i := 16; i < 256; i++ {
		var r, g, b int
		if _, err := fmt.Sscanf(xterm(i), "#%02x%02x%02x", &r, &g, &b); err != nil {
			t.Fatalf("xterm(%d) = %q: %v", i, xterm(i), err)
		}
		c, ok := rgbColor(r, g, b)
		if n, _ := c.Index(); !ok || int(n) != i {
			t.Errorf("rgbColor(%d, %d, %d) = %d, %v; want %d", r, g, b, n, ok, i)
		}
	}
}

func TestRGBColor_Nearest(t *testing.T) {
	tests := []struct {
		r, g, b int
		want    uint8
	}{
		{0, 0, 0, 16},
		{255, 255, 255, 231},
		{255, 0, 0, 196},
		{250, 5, 5, 196},
		{100, 100, 100, 241}, // grey 98 is nearer than cube 95
		{12, 12, 12, 232},
		{47, 48, 47, 236},    // grey 48
		{0, 95, 135, 24},     // cube exact
		{30, 100, 200, 26},   // 0,95,215
		{238, 238, 238, 255}, // last grey
	}
	for _, tt := range tests {
		c, ok := rgbColor(tt.r, tt.g, tt.b)
		if n, _ := c.Index(); !ok || n != tt.want {
			t.Errorf("rgbColor(%d, %d, %d) = %d, %v; want %d", tt.r, tt.g, tt.b, n, ok, tt.want)
		}
	}
}

func TestParse_Allocs(t *testing.T) {
	// Escapes that make no span cost no allocation: O(spans), not O(bytes).
	line := []byte(strings.Repeat("\x1b[1;38;2;1;2;3m\x1b]0;title\x07\x1b[2J\x00", 100_000) + "x")
	allocs := testing.AllocsPerRun(10, func() { Parse(line, Style{}) })
	if allocs > 3 {
		t.Errorf("Parse allocates %v times for one span, want at most 3", allocs)
	}
}
