package web

import (
	"strings"
	"testing"
)

// TestValidJobID_RunID pins the hand-written checks to the grammar the
// regexps they replaced had: ^[A-Za-z0-9._-]{1,100}(/[A-Za-z0-9._-]{1,100})?$
// and ^[0-9A-Za-z-]{4,64}$.
func TestValidJobID_RunID(t *testing.T) {
	for id, want := range map[string]bool{
		"build": true, "quire/mirror": true, "a.b_c-d": true, "x": true,
		strings.Repeat("a", 100): true, strings.Repeat("a", 100) + "/" + strings.Repeat("b", 100): true,
		"": false, "/": false, "a/": false, "/a": false, "a/b/c": false, "a b": false,
		strings.Repeat("a", 101): false, "a/" + strings.Repeat("b", 101): false,
		"é": false, "a\x00": false, "a\n": false, "a%2f": false,
	} {
		if got := validJobID(id); got != want {
			t.Errorf("validJobID(%q) = %v, want %v", id, got, want)
		}
	}
	for id, want := range map[string]bool{
		"0194-abcd": true, "abcd": true, strings.Repeat("f", 64): true,
		"abc": false, strings.Repeat("f", 65): false, "ab.cd": false, "ab/cd": false,
		"ab_cd": false, "abcd\n": false, "": false,
	} {
		if got := validRunID(id); got != want {
			t.Errorf("validRunID(%q) = %v, want %v", id, got, want)
		}
	}
}
