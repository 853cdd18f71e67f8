package luavm

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// lowMemoryLimit sets memoryLimit to n bytes over what the test binary
// now keeps live, and turns off the collections the runtime starts on
// its own, so that garbage stays in the heap until Guard collects it,
// for the rest of the test.
func lowMemoryLimit(t *testing.T, n uint64) {
	t.Helper()
	settle()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	old := SetMemoryLimit(s[0].Value.Uint64() + n)
	percent := debug.SetGCPercent(-1)
	t.Cleanup(func() {
		SetMemoryLimit(old)
		debug.SetGCPercent(percent)
		runtime.GC()
	})
}

// settle waits, for at most 15 s, until the goroutines that earlier tests
// left behind (loads abandoned at their time limit, still compiling) are
// gone: what they allocate is live.
func settle() {
	for end, last, still := time.Now().Add(15*time.Second), 0, 0; time.Now().Before(end) && still < 5; {
		n := runtime.NumGoroutine()
		if n == last {
			still++
		} else {
			still = 0
		}
		last = n
		time.Sleep(100 * time.Millisecond)
	}
}

// garbage allocates n bytes and drops them.
func garbage(n int) {
	b := make([]byte, n)
	b[n-1] = 1
	runtime.KeepAlive(b)
}

// forcedGCs returns how many collections the program forced so far.
func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// guardSleep runs Guard over a call that sleeps for d, or until its
// context is cancelled, and returns the cause it was cancelled with, or
// nil.
func guardSleep(t *testing.T, d time.Duration, during func()) error {
	t.Helper()
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	err := Guard(ctx, cancel, func() error {
		for end := time.Now().Add(d); time.Now().Before(end) && ctx.Err() == nil; {
			if during != nil {
				during()
			}
			time.Sleep(memoryPoll)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Guard: %v", err)
	}
	return context.Cause(ctx)
}

func TestGuard_Memory(t *testing.T) {
	t.Run("GarbageDoesNotCount", func(t *testing.T) {
		// What earlier jobs left is not this job's memory: a job that
		// uses little is not stopped because the heap still holds it.
		lowMemoryLimit(t, 32<<20)
		garbage(64 << 20)
		if cause := guardSleep(t, 10*memoryPoll, nil); cause != nil {
			t.Errorf("the call was cancelled with %v, want it to run to the end", cause)
		}
	})

	t.Run("LiveHeapCounts", func(t *testing.T) {
		lowMemoryLimit(t, 32<<20)
		live := make([]byte, 64<<20)
		// Another test may just have made Guard collect: wait out gcInterval.
		if cause := guardSleep(t, 2*gcInterval, nil); cause != ErrMemory {
			t.Errorf("the call ended with cause %v, want ErrMemory", cause)
		}
		runtime.KeepAlive(live)
	})

	t.Run("CollectsAtMostOnceAnInterval", func(t *testing.T) {
		// A call that keeps making garbage past the limit makes Guard
		// collect, but not at every look at the heap.
		// 128 MiB of headroom: a collection slowed by a busy machine
		// counts what is allocated meanwhile as live, and two 16 MiB
		// pieces must not read as past the limit. The loop still makes
		// hundreds of MiB of garbage, so Guard is still made to collect.
		lowMemoryLimit(t, 128<<20)
		before := forcedGCs()
		// Each piece is under the limit, since the one being made is live.
		cause := guardSleep(t, gcInterval/2, func() { garbage(16 << 20) })
		if cause != nil {
			t.Errorf("the call was cancelled with %v, want it to run to the end", cause)
		}
		if n := forcedGCs() - before; n > 1 {
			t.Errorf("Guard forced %d collections in %s, want at most 1", n, gcInterval/2)
		}
	})
}

// shortStuckGrace lowers the grace Guard gives a call after its context
// ended, for the rest of the test: a stuck call needs no five seconds.
func shortStuckGrace(tb testing.TB) {
	old := SetStuckGrace(100 * time.Millisecond)
	tb.Cleanup(func() { SetStuckGrace(old) })
}

func TestGuard_Stuck(t *testing.T) {
	shortStuckGrace(t)

	t.Run("GivesUp", func(t *testing.T) {
		// A call that ignores its context is left running.
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(nil)
		release := make(chan struct{})
		defer close(release)
		err := Guard(ctx, nil, func() error { <-release; return nil })
		if !errors.Is(err, ErrStuck) {
			t.Errorf("Guard = %v, want ErrStuck", err)
		}
	})

	t.Run("StopsWithinTheGrace", func(t *testing.T) {
		// A call that stops soon after its context ended gives its own
		// result.
		ctx, cancel := context.WithCancelCause(t.Context())
		want := errors.New("stopped")
		err := Guard(ctx, nil, func() error {
			cancel(nil)
			time.Sleep(10 * time.Millisecond)
			return want
		})
		if err != want {
			t.Errorf("Guard = %v, want %v", err, want)
		}
	})
}

func TestEval_StuckLibraryCall(t *testing.T) {
	// The VM checks the context between instructions, not inside
	// string.find: Eval gives up on the call instead of hanging.
	shortStuckGrace(t)
	src := `string.find(string.rep("a", 100000), string.rep("a*", 20) .. "b")`
	_, _, err := Eval(t.Context(), "ci.lua", []byte(src), 200*time.Millisecond)
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Error(), "did not stop when asked") {
		t.Fatalf("got %v, want the stuck-call problem", err)
	}
}

func TestEval_MemoryLimit(t *testing.T) {
	// '..' is built into the VM and cannot refuse a big result, but a
	// loop doubling a string is stopped once the heap passes the limit.
	old := SetMemoryLimit(64 << 20)
	t.Cleanup(func() { SetMemoryLimit(old) })
	src := "local s = \"x\"\nwhile true do s = s .. s end\n"
	_, _, err := Eval(t.Context(), "ci.lua", []byte(src), time.Minute)
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Error(), "MiB of memory") {
		t.Fatalf("got %v, want the memory problem", err)
	}
}
