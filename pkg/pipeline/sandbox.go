package pipeline

import (
	"context"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// removedGlobals are base-library functions a pipeline must not reach:
// the load family compiles chunks that see the real globals, module and
// require go through the package library's file-system search path,
// newproxy and _printregs expose VM internals, and collectgarbage,
// getfenv and setfenv let one chunk reach into another's environment.
var removedGlobals = []string{
	"dofile", "loadfile", "load", "loadstring",
	"getfenv", "setfenv", "collectgarbage",
	"module", "require", "newproxy", "_printregs",
}

// NewSandbox returns a fresh Lua state that offers only what SPEC §4 "The
// VM is a sandbox" allows: the base library without the functions in
// removedGlobals, and the string, table and math libraries. There is no io,
// os, debug, package, channel or coroutine library (coroutines are left
// out because the SPEC does not list them, and a coroutine created while
// the pipeline loads would keep the load's context when a job resumes it).
// require is absent; Load installs a restricted one.
//
// string.rep, string.format, string.gsub and table.concat refuse to build
// a string over MaxStringBytes. The `..` operator is built into the VM and
// cannot be limited.
//
// print discards its output until SetPrint replaces it. ctx is set on the
// state, so cancelling it interrupts a running chunk, endless loops
// included. The caller must Close the state.
func NewSandbox(ctx context.Context) *lua.LState {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	libs := []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.StringLibName, lua.OpenString},
		{lua.TabLibName, lua.OpenTable},
		{lua.MathLibName, lua.OpenMath},
	}
	for _, lib := range libs {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range removedGlobals {
		L.SetGlobal(name, lua.LNil)
	}
	installLimits(L)
	SetPrint(L, nil)
	L.SetContext(ctx)
	return L
}

// SetPrint replaces the global print of L with one that joins its
// arguments (converted like tostring) with tabs and hands the line to fn.
// A nil fn discards the output.
func SetPrint(L *lua.LState, fn func(line string)) {
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		if fn == nil {
			return 0
		}
		parts := make([]string, L.GetTop())
		for i := range parts {
			parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
		}
		fn(strings.Join(parts, "\t"))
		return 0
	}))
}
