package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// newSet returns a Set holding name/value pairs.
func newSet(tb testing.TB, pairs ...string) *Set {
	tb.Helper()
	s := new(Set)
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := s.Add(pairs[i], pairs[i+1]); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

const pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\r\nGkxFhD90vcNLYLInFEX6\n==\n-----END KEY-----\n"

func TestSet_String(t *testing.T) {
	s := newSet(t,
		"tok", "s3cr3t-t0ken",
		"pem", pem,
		"quote", `pa"ss\word`,
		"abab", "abab",
		"over", "t0kenXYZ",
	)
	tests := []struct {
		name, in, want string
	}{
		{"NoSecret", "nothing to see", "nothing to see"},
		{"Empty", "", ""},
		{"Once", "token=s3cr3t-t0ken;", "token={{ tok }};"},
		{"Twice", "s3cr3t-t0ken s3cr3t-t0ken", "{{ tok }} {{ tok }}"},
		{"Adjacent", "s3cr3t-t0kens3cr3t-t0ken", "{{ tok }}{{ tok }}"},
		{"PrefixOnly", "s3cr3t-t0ke", "s3cr3t-t0ke"},
		// Overlapping occurrences become one replacement: no byte of
		// either secret survives.
		{"Overlap", "s3cr3t-t0kenXYZ!", "{{ tok }}!"},
		{"SelfOverlap", "xabababab.", "x{{ abab }}."},
		{"WholePEM", "key:\n" + pem, "key:\n{{ pem }}"},
		{"PEMLinesCRLF", strings.ReplaceAll(pem, "\n", "\r\n"),
			"{{ pem }}\r\n{{ pem }}\r\r\n{{ pem }}\r\n==\r\n{{ pem }}\r\n"},
		{"PEMLineIndented", "  GkxFhD90vcNLYLInFEX6  ", "  {{ pem }}  "},
		{"ShortLineKept", "a == b", "a == b"},
		{"Quoted", `say pa"ss\word`, "say {{ quote }}"},
		{"JSONEscapedInText", `{"p":"pa\"ss\\word"}`, `{"p":"{{ quote }}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.String(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got := string(s.Bytes([]byte(tt.in))); got != tt.want {
				t.Errorf("Bytes: got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("NilSet", func(t *testing.T) {
		var s *Set
		if got := s.String("s3cr3t-t0ken"); got != "s3cr3t-t0ken" {
			t.Errorf("got %q", got)
		}
	})
}

func TestSet_Add(t *testing.T) {
	t.Run("TooShort", func(t *testing.T) {
		err := new(Set).Add("pin", "123")
		if err == nil || !strings.Contains(err.Error(), `"pin"`) || strings.Contains(err.Error(), "123") {
			t.Errorf("got %v, want an error naming pin without its value", err)
		}
	})
	t.Run("TooLong", func(t *testing.T) {
		if err := new(Set).Add("big", strings.Repeat("x", MaxLen+1)); err == nil {
			t.Error("got no error for a value over MaxLen")
		}
	})
	t.Run("Again", func(t *testing.T) {
		s := newSet(t, "a", "value-1", "a", "value-1", "a", "value-2")
		if got, want := s.Len(), 2; got != want {
			t.Errorf("got %d secrets, want %d", got, want)
		}
		if got, want := s.String("value-1 value-2"), "{{ a }} {{ a }}"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("FirstNameWins", func(t *testing.T) {
		s := newSet(t, "first", "same-value", "second", "same-value")
		if got, want := s.String("same-value"), "{{ first }}"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestStream_Chunking(t *testing.T) {
	s := newSet(t, "tok", "s3cr3t-t0ken", "pem", pem, "abab", "abab", "over", "t0kenXYZ")
	inputs := []string{
		"a s3cr3t-t0ken b s3cr3t-t0kenXYZ c abababababa d s3cr3t-t0k",
		pem + "tail" + strings.ReplaceAll(pem, "\n", "\r\n"),
		strings.Repeat("x", 40000) + "s3cr3t-t0ken" + strings.Repeat("y", 100),
		"s3cr3t-t0ke",
	}
	for _, in := range inputs {
		want := s.String(in)
		// Every split into two pieces, and pieces of every small size.
		for cut := 0; cut <= len(in) && cut < 200; cut++ {
			if got := streamed(s, []byte(in), []int{cut, len(in)}); got != want {
				t.Fatalf("cut at %d: got %.80q, want %.80q", cut, got, want)
			}
		}
		for size := 1; size < 30; size++ {
			if got := streamed(s, []byte(in), []int{size}); got != want {
				t.Fatalf("pieces of %d: got %.80q, want %.80q", size, got, want)
			}
		}
	}
	t.Run("HoldsBackLessThanLongest", func(t *testing.T) {
		st := s.Stream()
		out := st.Append(nil, []byte("xxxx-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\r\nGkx"))
		if got := len(st.held); got >= st.m.maxLen {
			t.Errorf("holds %d bytes, want fewer than %d", got, st.m.maxLen)
		}
		if string(out) != "xxxx" {
			t.Errorf("wrote %q, want the bytes that cannot start a secret", out)
		}
	})
}

// streamed passes data through a Stream of s in pieces of sizes (cycled;
// 0 means an empty write) and returns the output.
func streamed(s *Set, data []byte, sizes []int) string {
	st := s.Stream()
	var out []byte
	for i := 0; len(data) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(data))
		out = st.Append(out, data[:n])
		data = data[n:]
	}
	return string(st.Flush(out))
}

func TestWriter(t *testing.T) {
	s := newSet(t, "tok", "s3cr3t-t0ken")
	var buf bytes.Buffer
	w := NewWriter(s, &buf)
	for _, piece := range []string{"before s3cr3", "t-t0ken after s3cr3t-"} {
		if n, err := w.Write([]byte(piece)); err != nil || n != len(piece) {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "before {{ tok }} after s3cr3t-"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSet_JSON(t *testing.T) {
	s := newSet(t, "quote", `pa"ss\word`, "tok", "s3cr3t-t0ken", "num", "31415", "ctl", "new\nline\ttab")
	tests := []struct {
		name, in, want string
	}{
		{"NoSecret", `{"a":1,"b":["x"]}`, `{"a":1,"b":["x"]}`},
		{"Value", `{"t":"s3cr3t-t0ken"}`, `{"t":"{{ tok }}"}`},
		{"Escaped", `{"p":"<pa\"ss\\word>"}`, `{"p":"<{{ quote }}>"}`},
		{"EscapedDifferently", `{"p":"pa\u0022ss\u005cword"}`, `{"p":"{{ quote }}"}`},
		{"Key", `{"s3cr3t-t0ken":true}`, `{"{{ tok }}":true}`},
		{"Number", `{"n":314159}`, `{"n":"{{ num }}9"}`},
		{"ControlChars", `["new\nline\ttab"]`, `["{{ ctl }}"]`},
		{"Nested", `{"a":{"b":["x","s3cr3t-t0ken!"]}}`, `{"a":{"b":["x","{{ tok }}!"]}}`},
		{"Empty", ``, ``},
		{"Invalid", `{"t":"s3cr3t-t0ken`, `"{\"t\":\"{{ tok }}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.JSON(tt.in)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if got != "" && !json.Valid([]byte(got)) {
				t.Errorf("%s is not valid JSON", got)
			}
		})
	}
	t.Run("SpreadOverTokens", func(t *testing.T) {
		s := newSet(t, "odd", `x","y`)
		got := s.JSON(`["x","y"]`)
		if !json.Valid([]byte(got)) || strings.Contains(got, `x","y`) {
			t.Errorf("got %s, want valid JSON without the secret", got)
		}
	})
}

// The forms quire-hook's own quoting gives a value are redacted too: a
// message that Go-quotes a path (%q) or a command line that shell-quotes
// an argument must not carry a secret past redaction.
func TestSet_QuotedForms(t *testing.T) {
	secrets := map[string]string{
		"apos":    "it's-my-s3cret",
		"nbsp":    "tok\u00a0en-s3cret",
		"invalid": "caf\u00e9-\xff\xfe-s3cret",
		"quote":   `say"hi\there-s3cret`,
		"lines":   "first-line-s3cret\nsecond-line-s3cret",
	}
	s := new(Set)
	for name, v := range secrets {
		if err := s.Add(name, v); err != nil {
			t.Fatal(err)
		}
	}
	for name, v := range secrets {
		t.Run(name, func(t *testing.T) {
			for form, text := range map[string]string{
				"Go %q":  fmt.Sprintf("open %q: no such file", v),
				"Quote":  "cwd " + strconv.Quote("sub/"+v) + " is not a directory",
				"shell":  "echo '" + strings.ReplaceAll(v, "'", `'\''`) + "' done",
				"in arg": "printf '%s' '--token=" + strings.ReplaceAll(v, "'", `'\''`) + "'",
			} {
				got := s.String(text)
				if strings.Contains(got, "s3cret") || !strings.Contains(got, Replacement(name)) {
					t.Errorf("%s: %q redacted to %q", form, text, got)
				}
			}
		})
	}
}
