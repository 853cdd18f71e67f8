package luavm

import (
	"context"
	"slices"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// eval runs src in a fresh sandbox and returns its first result.
func eval(tb testing.TB, src string) (lua.LValue, error) {
	tb.Helper()
	L := New(tb.Context())
	tb.Cleanup(L.Close)
	fn, err := L.LoadString(src)
	if err != nil {
		tb.Fatalf("compile %q: %v", src, err)
	}
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		return nil, err
	}
	return L.Get(-1), nil
}

func TestNew(t *testing.T) {
	t.Run("Removed", func(t *testing.T) {
		for _, name := range []string{
			"io", "os", "debug", "package", "coroutine", "channel",
			"dofile", "loadfile", "load", "loadstring", "getfenv", "setfenv",
			"collectgarbage", "module", "require", "newproxy", "_printregs",
			"string.dump",
		} {
			t.Run(name, func(t *testing.T) {
				got, err := eval(t, "return "+name)
				if err != nil {
					t.Fatal(err)
				}
				if got != lua.LNil {
					t.Errorf("%s = %v, want nil", name, got)
				}
			})
		}
	})

	t.Run("Kept", func(t *testing.T) {
		for _, name := range []string{
			"print", "pairs", "ipairs", "pcall", "error", "tostring", "type",
			"setmetatable", "string.rep", "string.format", "string.gsub",
			"string.find", "table.concat", "table.insert", "math.floor",
		} {
			t.Run(name, func(t *testing.T) {
				got, err := eval(t, "return "+name)
				if err != nil {
					t.Fatal(err)
				}
				if got.Type() != lua.LTFunction {
					t.Errorf("%s = %v, want a function", name, got)
				}
			})
		}
	})

	t.Run("StringMethodsAreLimited", func(t *testing.T) {
		got, err := eval(t, `return getmetatable("").__index.rep == string.rep`)
		if err != nil || got != lua.LTrue {
			t.Errorf("the string metatable's rep is not the limited one (%v, %v)", got, err)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		L := New(ctx)
		defer L.Close()
		err := L.DoString("while true do end")
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("err = %v, want the loop interrupted", err)
		}
	})
}

func TestSetPrint(t *testing.T) {
	L := New(t.Context())
	defer L.Close()
	var lines []string
	SetPrint(L, func(s string) { lines = append(lines, s) })
	if err := L.DoString(`print("a", 1, 2.5, nil, true, setmetatable({}, {__tostring = function() return "T" end}))
print()`); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a\t1\t2.5\tnil\ttrue\tT", ""}; !slices.Equal(lines, want) {
		t.Errorf("printed %q, want %q", lines, want)
	}

	SetPrint(L, nil)
	if err := L.DoString(`print("dropped")`); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 {
		t.Errorf("print after SetPrint(nil) reached the old function: %q", lines)
	}
}
