// Package luavm is the sandboxed gopher-lua VM that quire-hook runs all
// Lua code in: the pipelines (.quire/ci.lua, loaded by package pipeline)
// and the operator's config.lua (package config).
//
// It guarantees, for any Lua source:
//   - New gives a state with only the base library (without the load
//     family, getfenv, setfenv, collectgarbage, require and the VM's
//     internals), string, table and math: no io, os, debug, package or
//     coroutines, so no file system and no process (SPEC §4 "The VM is a
//     sandbox"). One library call cannot build a string over
//     MaxStringBytes.
//   - Compile refuses, before gopher-lua's compiler sees it, a chunk over
//     MaxFileBytes, files of one load over MaxTotalBytes together,
//     nesting over MaxSyntaxLevels, and code that would cost the compiler
//     too much time or memory (too many functions, distinct constants or
//     names in scope); it returns when its context ends even though the
//     compiler cannot be interrupted.
//   - Guard stops Lua code whose live heap passes MemoryLimit, and gives
//     up on a call that does not stop StuckGrace after its context ended.
//   - Eval loads a file under a time limit (DefaultTimeout) with all of
//     the above, and reports every failure as a *LoadError whose Problem
//     names the file and line, without quoting the source.
//
// It also converts between Lua values and Go values and JSON (ToJSON,
// FromJSON, ToLua), builds short tracebacks (Traceback), and redirects
// print (SetPrint). It knows nothing of jobs or of the registration API.
package luavm

import (
	"context"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// removedGlobals are base-library functions Lua code must not reach:
// the load family compiles chunks that see the real globals, module and
// require go through the package library's file-system search path,
// newproxy and _printregs expose VM internals, and collectgarbage,
// getfenv and setfenv let one chunk reach into another's environment.
var removedGlobals = []string{
	"dofile", "loadfile", "load", "loadstring",
	"getfenv", "setfenv", "collectgarbage",
	"module", "require", "newproxy", "_printregs",
}

// New returns a fresh Lua state that offers only what SPEC §4 "The
// VM is a sandbox" allows: the base library without the functions in
// removedGlobals, and the string, table and math libraries. There is no io,
// os, debug, package, channel or coroutine library (coroutines are left
// out because the SPEC does not list them, and a coroutine created while
// the pipeline loads would keep the load's context when a job resumes it).
// require is absent; a loader installs its own (pipeline installs one
// restricted to .quire/).
//
// string.rep, string.format, string.gsub and table.concat refuse to build
// a string over MaxStringBytes. The `..` operator is built into the VM and
// cannot be limited.
//
// print discards its output until SetPrint replaces it. ctx is set on the
// state, so cancelling it interrupts a running chunk, endless loops
// included. The caller must Close the state.
func New(ctx context.Context) *lua.LState {
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
