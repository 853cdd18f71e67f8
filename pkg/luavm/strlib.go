package luavm

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// MaxStringBytes is the largest string that string.rep, string.format,
// string.gsub and table.concat build; longer results raise a Lua error
// instead of exhausting the hook's memory in one call.
const MaxStringBytes = 64 << 20

// installLimits replaces the library functions that can build a string of
// any size with versions that check the size before they allocate. The
// string table is also the __index of the string metatable, so
// ("x"):rep(n) reaches the same functions.
func installLimits(L *lua.LState) {
	str := L.GetGlobal(lua.StringLibName).(*lua.LTable)
	str.RawSetString("dump", lua.LNil)
	str.RawSetString("rep", L.NewFunction(strRep))
	str.RawSetString("format", L.NewFunction(strFormat))
	str.RawSetString("gsub", L.NewFunction(strGsub))
	tbl := L.GetGlobal(lua.TabLibName).(*lua.LTable)
	tbl.RawSetString("concat", L.NewFunction(tableConcat))
}

// raiseTooLong raises the Lua error for a result over MaxStringBytes of
// size bytes; a negative size is one not worth working out.
func raiseTooLong(L *lua.LState, fn string, size float64) {
	if size < 0 || size > 1<<50 {
		L.RaiseError("%s: the result would be over the %d MiB limit for one string", fn, MaxStringBytes>>20)
	}
	L.RaiseError("%s: the result would be %.0f bytes, over the %d MiB limit for one string", fn, size, MaxStringBytes>>20)
}

// strRep is string.rep(s, n) of Lua 5.1.
func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := float64(L.CheckNumber(2))
	if n < 1 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if size := float64(len(s)) * n; size > MaxStringBytes {
		raiseTooLong(L, "string.rep", size)
	}
	L.Push(lua.LString(strings.Repeat(s, int(n))))
	return 1
}

// tableConcat is table.concat(t, sep, i, j) of Lua 5.1.
func tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}

	// Size the result before building it.
	size := float64(len(sep)) * float64(j-i)
	for k := i; k <= j; k++ {
		v := t.RawGetInt(k)
		if !lua.LVCanConvToString(v) {
			L.RaiseError("invalid value (at index %d) in table for 'concat'", k)
		}
		size += float64(len(lua.LVAsString(v)))
		if size > MaxStringBytes {
			raiseTooLong(L, "table.concat", -1)
		}
	}

	var b strings.Builder
	b.Grow(int(size))
	for k := i; k <= j; k++ {
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(lua.LVAsString(t.RawGetInt(k)))
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// strFormat is string.format. Arguments that are neither strings nor
// numbers are passed as their tostring text, so a table never reaches
// fmt's reflection-based printing.
func strFormat(L *lua.LState) int {
	format := L.CheckString(1)
	args := make([]any, L.GetTop()-1)
	longest := 0
	for i := range args {
		v := L.Get(i + 2)
		if !lua.LVCanConvToString(v) {
			v = lua.LString(L.ToStringMeta(v).String())
		}
		args[i] = v
		longest = max(longest, len(v.String()))
	}
	directives, size := formatBound(format, args, longest)
	if size > MaxStringBytes {
		raiseTooLong(L, "string.format", float64(size))
	}
	L.Push(lua.LString(fmt.Sprintf(format, args[:min(directives, len(args))]...)))
	return 1
}

// maxFormatNumber is the largest width or precision fmt accepts; it
// prints %!(BADWIDTH) for larger ones.
const maxFormatNumber = 1_000_000

// formatBound counts the directives of a Go format string and returns an
// upper bound of the length of its output. A directive prints at most its
// width and precision plus four bytes per byte of its argument (%q and %x
// escape bytes); a directive with an explicit argument index or a *
// width may take any argument, so it is charged for the longest one.
func formatBound(format string, args []any, longest int) (directives, size int) {
	next := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			size++
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			size++
			i++
			continue
		}
		directives++
		anyArg := false
		num := 0
		for i++; i < len(format) && strings.IndexByte("+-# 0123456789.*[]", format[i]) >= 0; i++ {
			c := format[i]
			switch {
			case c >= '0' && c <= '9':
				num = min(num*10+int(c-'0'), maxFormatNumber)
			case c == '*':
				anyArg = true
				size += 2 * maxFormatNumber
			case c == '[':
				anyArg = true
			}
			if c < '0' || c > '9' {
				size += num
				num = 0
			}
		}
		size += num + 64
		arg := longest
		if !anyArg {
			arg = 0
			if next < len(args) {
				arg = len(args[next].(lua.LValue).String())
				if _, ok := args[next].(lua.LNumber); ok {
					arg = 400
				}
			}
			next++
		}
		size += 4 * arg
	}
	return directives, size
}

// gsubBatch is how many matches strGsub asks the matcher for at a time.
const gsubBatch = 1024

// strGsub is string.gsub(s, pattern, repl, n) of Lua 5.1. It asks for
// matches a batch at a time, so it checks the size of the result as it
// grows and notices a cancelled context between batches.
func strGsub(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	repl := L.Get(3)
	switch repl.(type) {
	case lua.LString, lua.LNumber, *lua.LTable, *lua.LFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	limit := len(src) + 1
	if L.Get(4) != lua.LNil {
		limit = L.CheckInt(4)
	}
	srcBytes := []byte(src)
	ctx := L.Context()

	var b strings.Builder
	write := func(s string) {
		if b.Len()+len(s) > MaxStringBytes {
			raiseTooLong(L, "string.gsub", -1)
		}
		b.WriteString(s)
	}
	// The matcher goes on from the end of a non-empty match, and one byte
	// past an empty one, as Lua 5.1 does; copied is how much of src is in
	// the result.
	n, from, copied := 0, 0, 0
	for n < limit && from <= len(src) {
		if ctx != nil && ctx.Err() != nil {
			L.RaiseError("%s", ctx.Err().Error())
		}
		want := min(limit-n, gsubBatch)
		found, err := pm.Find(pat, srcBytes, from, want)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		for _, m := range found {
			start, end := m.Capture(0), m.Capture(1)
			write(src[copied:start])
			write(gsubValue(L, src, m, repl))
			copied = end
			from = max(end, start+1)
		}
		n += len(found)
		if len(found) < want || strings.HasPrefix(pat, "^") {
			break
		}
	}
	write(src[copied:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// gsubValue returns the text that replaces match m.
func gsubValue(L *lua.LState, src string, m *pm.MatchData, repl lua.LValue) string {
	whole := src[m.Capture(0):m.Capture(1)]
	var v lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		return expandRepl(L, src, m, r.String())
	case *lua.LTable:
		v = L.GetTable(r, captureValue(L, src, m, 1))
	case *lua.LFunction:
		ncap := captureCount(m)
		L.Push(r)
		if ncap == 0 {
			L.Push(lua.LString(whole))
		}
		for i := 1; i <= ncap; i++ {
			L.Push(captureValue(L, src, m, i))
		}
		L.Call(max(ncap, 1), 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v.(type) {
	case *lua.LNilType, lua.LBool:
		if lua.LVIsFalse(v) {
			return whole
		}
	case lua.LString, lua.LNumber:
		return v.String()
	}
	L.RaiseError("invalid replacement value (a %s)", v.Type().String())
	return ""
}

// expandRepl expands %0-%9 and %<char> in a gsub replacement string.
func expandRepl(L *lua.LState, src string, m *pm.MatchData, repl string) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i+1 == len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		c = repl[i]
		switch {
		case c == '0':
			b.WriteString(src[m.Capture(0):m.Capture(1)])
		case c >= '1' && c <= '9':
			b.WriteString(captureValue(L, src, m, int(c-'0')).String())
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// captureCount returns how many captures the pattern of m has.
func captureCount(m *pm.MatchData) int {
	return (m.CaptureLength() - 2) / 2
}

// captureValue returns capture i (from 1) of m: a string, or a number for
// a position capture. Capture 1 of a pattern without captures is the whole
// match.
func captureValue(L *lua.LState, src string, m *pm.MatchData, i int) lua.LValue {
	ncap := captureCount(m)
	if ncap == 0 && i == 1 {
		return lua.LString(src[m.Capture(0):m.Capture(1)])
	}
	if i > ncap {
		L.RaiseError("invalid capture index")
	}
	if m.IsPosCapture(2 * i) {
		return lua.LNumber(m.Capture(2 * i))
	}
	return lua.LString(src[m.Capture(2*i):m.Capture(2*i+1)])
}
