package redact

import (
	"encoding/json"
	"unicode/utf8"
)

// JSON returns the JSON text js with every secret replaced, and still
// valid JSON. Strings (keys and values) are decoded, redacted and
// encoded again, so a secret is found whether it appears escaped or not;
// a number or literal that holds a secret becomes a string. Should a
// secret still show in the result (one spread over several tokens), or
// js not be valid JSON, the result is the whole redacted text as one JSON
// string.
func (s *Set) JSON(js string) string {
	m := s.matcher()
	if m == nil || js == "" {
		return js
	}
	var out []byte
	for i := 0; i < len(js); {
		c := js[i]
		switch {
		case c == '"':
			end := stringEnd(js, i)
			if end < 0 {
				return s.wholeAsString(js)
			}
			tok := js[i:end]
			var str string
			if err := json.Unmarshal([]byte(tok), &str); err != nil {
				return s.wholeAsString(js)
			}
			if r := s.String(str); r != str {
				out = appendJSONString(out, r)
			} else {
				out = append(out, tok...)
			}
			i = end
		case isScalarByte(c):
			j := i
			for j < len(js) && isScalarByte(js[j]) {
				j++
			}
			tok := js[i:j]
			if r := s.String(tok); r != tok {
				out = appendJSONString(out, r)
			} else {
				out = append(out, tok...)
			}
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	if res := string(out); s.String(res) == res {
		return res
	}
	return s.wholeAsString(string(out))
}

// wholeAsString redacts js as plain text and returns it as a JSON string.
func (s *Set) wholeAsString(js string) string {
	return string(appendJSONString(nil, s.String(js)))
}

// stringEnd returns the index after the closing quote of the JSON string
// starting at js[i], or -1.
func stringEnd(js string, i int) int {
	for j := i + 1; j < len(js); j++ {
		switch js[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// isScalarByte reports whether c belongs to a number or a literal (true,
// false, null).
func isScalarByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.'
}

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONEscaped(dst, s)
	return append(dst, '"')
}

// appendJSONEscaped appends s as the inside of a JSON string, escaped as
// the pipeline's outputs are: quotes, backslashes and control
// characters escaped, <, > and & left alone, and each byte that is not
// valid UTF-8 written as \ufffd.
func appendJSONEscaped(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}
