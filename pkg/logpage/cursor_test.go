package logpage

import (
	"slices"
	"strings"
	"testing"
)

func TestCursor_String(t *testing.T) {
	tests := []struct {
		c    Cursor
		want string
	}{
		{Cursor{}, "0"},
		{Cursor{Offsets: []int64{0, 0, 0}}, "0"},
		{Cursor{Line: 1000, Offsets: []int64{52431}}, "1000.52431"},
		{Cursor{Line: 7, Offsets: []int64{0, 88, 0}}, "7.0.88"},
		{Cursor{Line: 1 << 40, Offsets: []int64{1 << 30, 1, 2}}, "1099511627776.1073741824.1.2"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.c, got, tt.want)
		}
		back, err := ParseCursor(tt.want, 3)
		if err != nil {
			t.Fatalf("ParseCursor(%q): %v", tt.want, err)
		}
		want := make([]int64, 3)
		copy(want, tt.c.Offsets)
		if back.Line != tt.c.Line || !slices.Equal(back.Offsets, want) {
			t.Errorf("ParseCursor(%q) = %+v, want %+v", tt.want, back, tt.c)
		}
	}
}

func TestParseCursor(t *testing.T) {
	t.Run("Good", func(t *testing.T) {
		tests := []struct {
			s      string
			nfiles int
			want   Cursor
		}{
			{"", 2, Cursor{Offsets: []int64{0, 0}}},
			{"0", 0, Cursor{Offsets: []int64{}}},
			{"5", 2, Cursor{Line: 5, Offsets: []int64{0, 0}}},
			{"5.10", 3, Cursor{Line: 5, Offsets: []int64{10, 0, 0}}},
			{"0012.0", 1, Cursor{Line: 12, Offsets: []int64{0}}},
			{"1125899906842624.1125899906842624", 1, Cursor{Line: 1 << 50, Offsets: []int64{1 << 50}}},
		}
		for _, tt := range tests {
			got, err := ParseCursor(tt.s, tt.nfiles)
			if err != nil {
				t.Fatalf("ParseCursor(%q, %d): %v", tt.s, tt.nfiles, err)
			}
			if got.Line != tt.want.Line || !slices.Equal(got.Offsets, tt.want.Offsets) {
				t.Errorf("ParseCursor(%q, %d) = %+v, want %+v", tt.s, tt.nfiles, got, tt.want)
			}
		}
	})

	t.Run("Bad", func(t *testing.T) {
		tests := []struct {
			s      string
			nfiles int
			want   string
		}{
			{"-1", 1, "not a decimal number"},
			{"", -1, "a log of -1 files"},
			{"1.-5", 1, "not a decimal number"},
			{"+1", 1, "not a decimal number"},
			{"1.2.3", 1, "2 offsets for a log of 1 files"},
			{"1.2", 0, "1 offsets for a log of 0 files"},
			{"abc", 1, "not a decimal number"},
			{"1..2", 2, "part 2: not a decimal number"},
			{".", 1, "not a decimal number"},
			{"1.", 1, "not a decimal number"},
			{"1 .2", 1, "not a decimal number"},
			{"0x10", 1, "not a decimal number"},
			{"1e9", 1, "not a decimal number"},
			{"1.2\x00", 1, "not a decimal number"},
			{"١٢", 1, "not a decimal number"},
			{"<script>alert(1)</script>", 1, "not a decimal number"},
			{"1125899906842625", 1, "too large"},
			{"9999999999999999", 1, "too large"},
			{"99999999999999999", 1, "too large"},
			{"1." + strings.Repeat("9", 40), 1, "longer than a cursor"},
			{strings.Repeat("1.", 1<<20), 3, "longer than a cursor"},
		}
		for _, tt := range tests {
			_, err := ParseCursor(tt.s, tt.nfiles)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCursor(%.40q, %d) = %v, want an error saying %q", tt.s, tt.nfiles, err, tt.want)
			}
		}
	})
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "0", "5.10.0", "-1", "1..2", "99999999999999999"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, nfiles int) {
		nfiles = min(max(nfiles, 0), 64)
		c, err := ParseCursor(s, nfiles)
		if err != nil {
			return
		}
		if len(c.Offsets) != nfiles || c.Line < 0 || c.Line > maxCursorValue {
			t.Fatalf("ParseCursor(%q, %d) = %+v", s, nfiles, c)
		}
		for _, o := range c.Offsets {
			if o < 0 || o > maxCursorValue {
				t.Fatalf("ParseCursor(%q, %d) = %+v", s, nfiles, c)
			}
		}
		back, err := ParseCursor(c.String(), nfiles)
		if err != nil || back.Line != c.Line || !slices.Equal(back.Offsets, c.Offsets) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", s, back, err, c)
		}
	})
}
