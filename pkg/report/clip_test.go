package report

import "testing"

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"first\nsecond", 40, "first ..."},
		{"abcdefghij", 8, "abcde..."},
		{"ééééé", 8, "éé..."}, // not cut inside a rune
		{"a\x1bb", 10, `a\x1bb`},
	} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
