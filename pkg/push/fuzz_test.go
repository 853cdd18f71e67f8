package push

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary post-receive input to Parse: it must never
// panic or fail (the input is in memory); every update must be a line git
// could have written, and writing the updates back out must parse to the
// same updates; every bad line must be numbered within the input, in
// order, with a message that is valid UTF-8.
func FuzzParse(f *testing.F) {
	f.Add(ZeroSHA + " " + a + " refs/heads/main\n")
	f.Add(strings.Repeat("x", 3*maxLine) + "\n" + a + " " + b + " refs/heads/after")
	f.Add(strings.Repeat(a+" "+b+" refs/heads/main\r\n", 100))
	f.Fuzz(func(t *testing.T, in string) {
		updates, bad, err := Parse(strings.NewReader(in))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		lines := strings.Count(in, "\n") + 1
		if len(updates)+len(bad) > lines {
			t.Fatalf("%d updates and %d bad lines from %d lines", len(updates), len(bad), lines)
		}

		var out strings.Builder
		for _, u := range updates {
			if !isSHA(u.Old) || !isSHA(u.New) {
				t.Errorf("update %+v: not 40-hex object names", u)
			}
			if err := CheckRef(u.Ref); err != nil {
				t.Errorf("update %+v: %v", u, err)
			}
			out.WriteString(u.Old + " " + u.New + " " + u.Ref + "\n")
		}
		again, badAgain, err := Parse(strings.NewReader(out.String()))
		if err != nil || len(badAgain) > 0 || len(again) != len(updates) {
			t.Fatalf("written back, the updates parse to %v, %v, %v", again, badAgain, err)
		}
		for i := range again {
			if again[i] != updates[i] {
				t.Errorf("update %d: %+v written back parses to %+v", i, updates[i], again[i])
			}
		}

		last := 0
		for _, e := range bad {
			if e.Line <= last || e.Line > lines {
				t.Errorf("bad line number %d after %d, of %d lines", e.Line, last, lines)
			}
			last = e.Line
			if msg := e.Error(); !utf8.ValidString(msg) {
				t.Errorf("message %q is not valid UTF-8", msg)
			}
			if len(e.Text) > maxLine+3 {
				t.Errorf("bad line %d keeps %d bytes of text", e.Line, len(e.Text))
			}
		}
	})
}
