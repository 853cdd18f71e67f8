package luavm

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// TracebackMarker starts the traceback that Traceback appends to an
// error message.
const TracebackMarker = "\nstack traceback:"

// maxTraceback bounds the frames a traceback lists.
const maxTraceback = 16

// Traceback returns a message handler for PCall and CallByParam that
// appends a short Lua traceback to the error message. Without a handler,
// gopher-lua builds its own traceback with one line per tail call, and
// an endless tail recursion cut short by a timeout then takes gigabytes.
func Traceback(L *lua.LState) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		var b strings.Builder
		b.WriteString(L.ToStringMeta(L.Get(1)).String())
		b.WriteString(TracebackMarker)
		last := ""
		for level := 1; level <= maxTraceback; level++ {
			dbg, ok := L.GetStack(level)
			if !ok {
				break
			}
			if _, err := L.GetInfo("Sln", dbg, lua.LNil); err != nil {
				break
			}
			line := frameLine(dbg)
			if line == last {
				continue // GetStack repeats the bottom frame past the end
			}
			last = line
			b.WriteString("\n\t")
			b.WriteString(line)
		}
		L.Push(lua.LString(b.String()))
		return 1
	})
}

// KeepMessage returns a message handler for PCall that returns the error
// unchanged, so that no traceback is built when only the message is
// wanted (see Traceback for why a handler is needed at all).
func KeepMessage(L *lua.LState) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		L.Push(L.Get(1))
		return 1
	})
}

// frameLine formats one frame of a traceback as Lua does. gopher-lua
// names every frame without a Lua caller "main chunk", which would call
// a job's function, called from Go, the main chunk; the main chunk of a
// file is the function defined at line 0.
func frameLine(dbg *lua.Debug) string {
	var name string
	switch {
	case dbg.What == "G" && (dbg.Name == "" || dbg.Name == "(anonymous)"):
		return "[G]: ?" // such as a metamethod, which no call instruction names
	case dbg.What == "G":
		return fmt.Sprintf("[G]: in function '%s'", dbg.Name)
	case dbg.LineDefined == 0:
		name = "main chunk"
	case dbg.Name != "" && dbg.Name != "main chunk" && !strings.HasPrefix(dbg.Name, "<"):
		name = "function '" + dbg.Name + "'"
	default:
		name = fmt.Sprintf("function <%s:%d>", dbg.Source, dbg.LineDefined)
	}
	if dbg.CurrentLine > 0 {
		return fmt.Sprintf("%s:%d: in %s", dbg.Source, dbg.CurrentLine, name)
	}
	return fmt.Sprintf("%s: in %s", dbg.Source, name)
}
