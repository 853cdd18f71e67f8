package luavm

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestEval_EndlessTailCall(t *testing.T) {
	// gopher-lua's own traceback has a line per tail call: an endless
	// tail recursion cut short by the time limit used to build gigabytes.
	src := "local function f() return f() end\nf()\n"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Eval(t.Context(), "ci.lua", []byte(src), 300*time.Millisecond)
	runtime.ReadMemStats(&after)
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Error(), "did not finish within") {
		t.Fatalf("got %v, want the time limit problem", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("evaluating allocated %d MiB, want a bounded amount", grew>>20)
	}
	if len(le.Error()) > 1000 {
		t.Errorf("problem is %d bytes long: %.200q", len(le.Error()), le.Error())
	}
}

func TestTraceback(t *testing.T) {
	L := New(t.Context())
	defer L.Close()
	fn, err := L.Load(strings.NewReader("local function inner() error('boom') end\nlocal function outer() inner() end\nouter()\n"), "ci.lua")
	if err != nil {
		t.Fatal(err)
	}
	err = L.CallByParam(lua.P{Fn: fn, Protect: true, Handler: Traceback(L)})
	var aerr *lua.ApiError
	if !errors.As(err, &aerr) {
		t.Fatalf("got %v, want a Lua error", err)
	}
	msg, trace, ok := strings.Cut(aerr.Object.String(), TracebackMarker)
	if !ok || msg != "ci.lua:1: boom" {
		t.Fatalf("message %q, want %q then the traceback", aerr.Object.String(), "ci.lua:1: boom")
	}
	for _, want := range []string{"ci.lua:1: in function 'inner'", "ci.lua:2: in function 'outer'", "ci.lua:3: in main chunk"} {
		if !strings.Contains(trace, want) {
			t.Errorf("traceback %q lacks %q", trace, want)
		}
	}
}
