package pipeline

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

// Package luavm tests its guards against runaway code on Eval; these
// tests check that Load runs the pipeline file under them too.

func TestLoad_EndlessTailCall(t *testing.T) {
	// gopher-lua's own traceback has a line per tail call: an endless
	// tail recursion cut short by the time limit used to build gigabytes.
	fsys := fstest.MapFS{".quire/ci.lua": {Data: []byte("local function f() return f() end\nf()\n")}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Load(t.Context(), fsys, Options{Timeout: 300 * time.Millisecond})
	runtime.ReadMemStats(&after)
	var le *luavm.LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Error(), "did not finish loading") {
		t.Fatalf("got %v, want the time limit problem", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("loading allocated %d MiB, want a bounded amount", grew>>20)
	}
	if len(le.Error()) > 1000 {
		t.Errorf("problem is %d bytes long: %.200q", len(le.Error()), le.Error())
	}
}

func TestLoad_StuckLibraryCall(t *testing.T) {
	// The VM checks the context between instructions, not inside
	// string.find: Load gives up on the call instead of hanging.
	old := luavm.SetStuckGrace(100 * time.Millisecond)
	t.Cleanup(func() { luavm.SetStuckGrace(old) })
	fsys := fstest.MapFS{".quire/ci.lua": {Data: []byte(`string.find(string.rep("a", 100000), string.rep("a*", 20) .. "b")`)}}
	_, err := Load(t.Context(), fsys, Options{Timeout: 200 * time.Millisecond})
	var le *luavm.LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Error(), "did not stop when asked") {
		t.Fatalf("got %v, want the stuck-call problem", err)
	}
}

func TestLoad_MemoryLimit(t *testing.T) {
	// '..' is built into the VM and cannot refuse a big result, but a
	// loop doubling a string is stopped once the heap passes the limit.
	old := luavm.SetMemoryLimit(64 << 20)
	t.Cleanup(func() { luavm.SetMemoryLimit(old) })
	fsys := fstest.MapFS{".quire/ci.lua": {Data: []byte("local s = \"x\"\nwhile true do s = s .. s end\n")}}
	_, err := Load(t.Context(), fsys, Options{Timeout: time.Minute})
	var le *luavm.LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Error(), "MiB of memory") {
		t.Fatalf("got %v, want the memory problem", err)
	}
}
