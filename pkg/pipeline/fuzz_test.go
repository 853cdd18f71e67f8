package pipeline

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

// fuzzTimeout is the load time limit for each fuzzed input.
const fuzzTimeout = 300 * time.Millisecond

// FuzzLoad loads arbitrary ci.lua sources: a load must never panic, crash
// or hang past its time limit (and luavm.StuckGrace for a stuck library call),
// and any failure must be a *luavm.LoadError. The heap is held to 256 MiB
// instead of 1 GiB so that memory-hungry inputs end sooner.
func FuzzLoad(f *testing.F) {
	// Big inputs are built here rather than stored in testdata/fuzz.
	for _, src := range []string{
		"local x = " + deep("{", "", "}", 1_000_000),
		"local x = " + strings.Repeat("#", 1_000_000) + "a",
		"local x = " + strings.Repeat("not ", 250_000) + "a",
		"local x = " + chain("..", 120_000),
		"local x = " + chain("+", 300_000),
		"local f = " + deep("function() return ", "1", " end", 30_000),
		"if a then " + strings.Repeat("elseif a then ", 70_000) + "end",
		"local s = '" + strings.Repeat("x", 1<<20) + "'",
		"x = [[" + strings.Repeat("\xff\xfe", 300_000),
		"local t = {" + strings.Repeat("function() end,", 10_000) + "}",
	} {
		f.Add(src)
	}
	old := luavm.SetMemoryLimit(256 << 20)
	f.Cleanup(func() { luavm.SetMemoryLimit(old) })

	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		p, err := Load(t.Context(), repo(src), Options{Timeout: fuzzTimeout})
		took := time.Since(start)
		if err == nil {
			p.Close()
		} else if le := (*luavm.LoadError)(nil); !errors.As(err, &le) {
			t.Fatalf("Load: %v, want a *luavm.LoadError", err)
		} else if len(le.Problems) == 0 {
			t.Fatal("a *luavm.LoadError without problems")
		}
		if limit := fuzzTimeout + luavm.StuckGrace + 5*time.Second; took > limit {
			t.Fatalf("Load took %s, past the %s it may take", took, limit)
		}
	})
}
