package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"time"
)

// StuckGrace is how long a Lua call may go on after its context ended
// before Guard gives up on it: long enough for a huge string operation
// already under way to finish.
const StuckGrace = 5 * time.Second

// ErrStuck is returned by Guard for a call that did not stop.
var ErrStuck = errors.New("the Lua code did not stop when asked (a library call that cannot be interrupted, such as a pathological string pattern?)")

// MemoryLimit bounds the Go heap while Guard runs Lua code. One call
// cannot build a string over MaxStringBytes, but a loop can keep
// doubling one with '..', which the VM cannot limit.
const MemoryLimit = 1 << 30

// memoryLimit is MemoryLimit; tests lower it.
var memoryLimit uint64 = MemoryLimit

// ErrMemory is the cause Guard cancels Lua code with when the heap grows
// past MemoryLimit.
var ErrMemory = fmt.Errorf("the Lua code used more than %d MiB of memory", MemoryLimit>>20)

// memoryPoll is how often Guard looks at the heap.
const memoryPoll = 20 * time.Millisecond

// Guard runs call on its own goroutine and waits for it.
//
// While it runs, Guard watches the heap and cancels ctx (through cancel)
// with ErrMemory when it grows past MemoryLimit; the VM then stops at its
// next instruction.
//
// gopher-lua checks the context between VM instructions but not inside
// a library call: a backtracking string.find can run for hours. When ctx
// ends and call has not returned StuckGrace later, Guard returns ErrStuck
// and leaves it running; the caller must then never touch that Lua
// state again (the process exiting ends it).
func Guard(ctx context.Context, cancel context.CancelCauseFunc, call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	tick := time.NewTicker(memoryPoll)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
		case <-tick.C:
			metrics.Read(heap)
			if heap[0].Value.Kind() == metrics.KindUint64 && heap[0].Value.Uint64() > memoryLimit {
				cancel(ErrMemory)
			}
		}
	}
	t := time.NewTimer(StuckGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return ErrStuck
	}
}
