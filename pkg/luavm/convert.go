package luavm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// maxOutputDepth is how deeply output tables may nest.
const maxOutputDepth = 100

// ToJSON converts what a job returned to JSON: nil is "" (no output); a
// table becomes a JSON array when its keys are exactly 1..n and an object
// when they are all strings (object keys sorted, an empty table is {});
// strings (UTF-8 text), numbers and booleans are themselves. Anything
// else is an error that names the key
// path of the offending value ('a.b', 'list[2]'): functions and other
// non-data values, NaN and infinities, tables that mix list items and
// named keys or have other keys, cycles, nesting deeper than 100 tables,
// and results over MaxStringBytes.
func ToJSON(v lua.LValue) (string, error) {
	switch v.(type) {
	case nil, *lua.LNilType:
		return "", nil
	case *lua.LTable:
	default:
		return "", fmt.Errorf("output is %s; a job returns a table or nil", Describe(v))
	}
	var e jsonEncoder
	if err := e.value(v, "", 0); err != nil {
		return "", err
	}
	return e.buf.String(), nil
}

// jsonEncoder writes Lua values as JSON.
type jsonEncoder struct {
	buf   bytes.Buffer
	stack []*lua.LTable // tables being written, to notice cycles
}

// value writes v, found at key path p, nesting depth tables deep.
func (e *jsonEncoder) value(v lua.LValue, p string, depth int) error {
	if e.buf.Len() > MaxStringBytes {
		return fmt.Errorf("output is larger than %d MiB", MaxStringBytes>>20)
	}
	switch v := v.(type) {
	case lua.LString:
		// Replacing the bytes would hand later jobs a different value
		// than the one returned, silently.
		if !utf8.ValidString(string(v)) {
			return fmt.Errorf("%s is not UTF-8 text; encode binary data first (for example as hex)", subject(p))
		}
		writeJSONString(&e.buf, string(v))
	case lua.LBool:
		e.buf.WriteString(strconv.FormatBool(bool(v)))
	case lua.LNumber:
		f := float64(v)
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return fmt.Errorf("%s is %s; JSON has no NaN or infinity", subject(p), v)
		case f == math.Trunc(f) && math.Abs(f) < 1<<53:
			e.buf.WriteString(strconv.FormatInt(int64(f), 10))
		default:
			e.buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case *lua.LTable:
		return e.table(v, p, depth+1)
	default:
		return fmt.Errorf("%s is a %s; outputs must be strings, numbers, booleans or tables", subject(p), v.Type())
	}
	return nil
}

// table writes t as a JSON array or object.
func (e *jsonEncoder) table(t *lua.LTable, p string, depth int) error {
	if depth > maxOutputDepth {
		return fmt.Errorf("%s is nested more than %d tables deep", subject(p), maxOutputDepth)
	}
	if slices.Contains(e.stack, t) {
		return fmt.Errorf("%s is a table that contains itself; outputs cannot have cycles", subject(p))
	}
	e.stack = append(e.stack, t)
	defer func() { e.stack = e.stack[:len(e.stack)-1] }()

	// Sort the keys into names and list indexes.
	var names []string
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	list := 0
	for _, k := range keys {
		switch {
		case k.Type() == lua.LTString:
			names = append(names, k.String())
		case IsListKey(k, len(keys)):
			list++
		default:
			return fmt.Errorf("%s has the key %s; an output table is a list with keys 1..n or has string keys", subject(p), Describe(k))
		}
	}
	if list > 0 && len(names) > 0 {
		return fmt.Errorf("%s mixes list items with named keys (such as '%s'); use one or the other", subject(p), names[0])
	}

	// A list.
	if list > 0 {
		e.buf.WriteByte('[')
		for i := 1; i <= list; i++ {
			if i > 1 {
				e.buf.WriteByte(',')
			}
			if err := e.value(t.RawGetInt(i), fmt.Sprintf("%s[%d]", p, i), depth); err != nil {
				return err
			}
		}
		e.buf.WriteByte(']')
		return nil
	}

	// An object.
	slices.Sort(names)
	e.buf.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		if !utf8.ValidString(name) {
			return fmt.Errorf("%s has a key that is not UTF-8 text: %q", subject(p), name)
		}
		writeJSONString(&e.buf, name)
		e.buf.WriteByte(':')
		child := name
		if p != "" {
			child = p + "." + name
		}
		if err := e.value(t.RawGetString(name), child, depth); err != nil {
			return err
		}
	}
	e.buf.WriteByte('}')
	return nil
}

// subject names the value at key path p in an error message.
func subject(p string) string {
	if p == "" {
		return "output"
	}
	return "output key '" + p + "'"
}

// writeJSONString writes s as a JSON string. Unlike encoding/json it
// leaves <, > and & alone, so stored outputs read plainly in sqlite3.
func writeJSONString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf.WriteString(`\ufffd`)
			} else {
				buf.WriteString(s[i : i+size])
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\r':
			buf.WriteString(`\r`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[c>>4])
			buf.WriteByte(hex[c&0xf])
		default:
			buf.WriteByte(c)
		}
		i++
	}
	buf.WriteByte('"')
}

// FromJSON converts stored JSON back to a Lua value: objects become
// tables, arrays sequences, null nil. "" (no output) is nil.
func FromJSON(L *lua.LState, s string) (lua.LValue, error) {
	if s == "" {
		return lua.LNil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return lua.LNil, fmt.Errorf("decode output json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return lua.LNil, errors.New("decode output json: data after the value")
	}
	return ToLua(L, v), nil
}

// ToLua converts a Go value to Lua: strings, booleans and numbers
// (including json.Number) to themselves, nil to nil, []string and []any
// to sequences, map[string]any and map[string]string to tables. A
// lua.LValue is returned as it is; any other value becomes its fmt.Sprint
// text.
func ToLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case lua.LValue:
		return v
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case uint64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return lua.LString(v.String())
		}
		return lua.LNumber(f)
	case []string:
		t := L.CreateTable(len(v), 0)
		for i, s := range v {
			t.RawSetInt(i+1, lua.LString(s))
		}
		return t
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, ToLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, ToLua(L, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(v))
		for k, s := range v {
			t.RawSetString(k, lua.LString(s))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v))
}

// Describe names a Lua value for a message: its type, and its text when
// it is a short string or a number.
func Describe(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		if len(v) <= 40 {
			return fmt.Sprintf("the string %q", string(v))
		}
		return "a long string"
	case lua.LNumber:
		return "the number " + v.String()
	case lua.LBool:
		return "the boolean " + v.String()
	case *lua.LNilType:
		return "nil"
	}
	return "a " + v.Type().String()
}

// IsListKey reports whether k is an integer from 1 to n. A table whose n
// keys all pass is the list 1..n.
func IsListKey(k lua.LValue, n int) bool {
	f, ok := k.(lua.LNumber)
	return ok && f >= 1 && f <= lua.LNumber(n) && float64(f) == float64(int64(f))
}
