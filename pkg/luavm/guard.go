package luavm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// StuckGrace is how long a Lua call may go on after its context ended
// before Guard gives up on it: long enough for a huge string operation
// already under way to finish.
const StuckGrace = 5 * time.Second

// stuckGrace is StuckGrace unless SetStuckGrace changed it.
var stuckGrace atomic.Int64

// SetStuckGrace makes Guard give up on a call d after its context ended
// instead of StuckGrace later, and returns the grace it replaces. It is
// for tests of stuck calls, which need not wait the full grace.
func SetStuckGrace(d time.Duration) time.Duration {
	return time.Duration(stuckGrace.Swap(int64(d)))
}

// CurrentStuckGrace is the grace Guard gives now: StuckGrace unless a
// test changed it.
func CurrentStuckGrace() time.Duration { return time.Duration(stuckGrace.Load()) }

// ErrStuck is returned by Guard for a call that did not stop.
var ErrStuck = errors.New("the Lua code did not stop when asked (a library call that cannot be interrupted, such as a pathological string pattern?)")

// MemoryLimit bounds the live Go heap while Guard runs Lua code. One call
// cannot build a string over MaxStringBytes, but a loop can keep
// doubling one with '..', which the VM cannot limit.
const MemoryLimit = 1 << 30

// memoryLimit is MemoryLimit unless SetMemoryLimit changed it.
var memoryLimit atomic.Uint64

func init() {
	stuckGrace.Store(int64(StuckGrace))
	memoryLimit.Store(MemoryLimit)
}

// SetMemoryLimit makes Guard and Compile stop Lua code at n bytes of live
// heap instead of MemoryLimit, and returns the limit it replaces. It is
// for tests and fuzzing, which lower the limit so that memory-hungry code
// ends sooner.
func SetMemoryLimit(n uint64) uint64 {
	return memoryLimit.Swap(n)
}

// ErrMemory is the cause Guard cancels Lua code with when the heap grows
// past MemoryLimit.
var ErrMemory = fmt.Errorf("the Lua code used more than %d MiB of memory", MemoryLimit>>20)

// memoryPoll is how often Guard looks at the heap.
const memoryPoll = 20 * time.Millisecond

// gcInterval is the least time between two collections that Guard forces
// to tell live memory from garbage, so that code whose heap stays near
// the limit does not make the process collect every memoryPoll.
const gcInterval = time.Second

// Guard runs call on its own goroutine and waits for it.
//
// While it runs, Guard watches the heap and cancels ctx (through cancel)
// with ErrMemory when the live heap grows past MemoryLimit; the VM then
// stops at its next instruction. Garbage, such as what earlier jobs left,
// does not count: before stopping anything Guard makes sure the heap is
// over the limit after a collection.
//
// gopher-lua checks the context between VM instructions but not inside
// a library call: a backtracking string.find can run for hours. When ctx
// ends and call has not returned StuckGrace later, Guard returns ErrStuck
// and leaves it running; the caller must then never touch that Lua
// state again (the process exiting ends it).
func Guard(ctx context.Context, cancel context.CancelCauseFunc, call func() error) error {
	var err error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err = call()
	}()
	if watch(ctx, cancel, finished) == nil {
		return err
	}
	t := time.NewTimer(time.Duration(stuckGrace.Load()))
	defer t.Stop()
	select {
	case <-finished:
		return err
	case <-t.C:
		return ErrStuck
	}
}

// watch waits until finished is closed, which gives nil, or ctx ends,
// which gives context.Cause(ctx). Meanwhile, if cancel is not nil, it
// cancels ctx with ErrMemory when the live heap passes memoryLimit.
func watch(ctx context.Context, cancel context.CancelCauseFunc, finished <-chan struct{}) error {
	var tick <-chan time.Time
	var heap heapWatch
	var collected <-chan bool // the verdict of a collection under way
	if cancel != nil {
		t := time.NewTicker(memoryPoll)
		defer t.Stop()
		tick = t.C
		heap.start()
	}
	for ctx.Err() == nil {
		select {
		case <-finished:
			return nil
		case <-ctx.Done():
		case <-tick:
			if collected != nil {
				break
			}
			over, verdict := heap.over()
			if over {
				cancel(ErrMemory)
			}
			collected = verdict
		case over := <-collected:
			collected = nil
			if over {
				cancel(ErrMemory)
			}
		}
	}
	return context.Cause(ctx)
}

// lastGC is when a heapWatch last forced a collection.
var lastGC struct {
	sync.Mutex
	at time.Time
}

// heapWatch tells whether the live heap is over memoryLimit.
type heapWatch struct {
	samples []metrics.Sample
	cycles  uint64 // collections finished before the watch started
}

// heapSamples returns the metrics heapWatch reads.
func heapSamples() []metrics.Sample {
	return []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
}

// sampleValue returns samples[i] as a number.
func sampleValue(samples []metrics.Sample, i int) uint64 {
	if samples[i].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return samples[i].Value.Uint64()
}

// start reads the metrics for the first time.
func (h *heapWatch) start() {
	h.samples = heapSamples()
	metrics.Read(h.samples)
	h.cycles = sampleValue(h.samples, 2)
}

// over reports whether the live heap is over memoryLimit. The heap holds
// garbage until the next collection, such as what earlier jobs left, so
// a heap over the limit is taken as live only if a collection since the
// watch started found it so. If none did, over starts one (at most once
// a gcInterval, for all watches together) on its own goroutine, which
// can take seconds, and returns the channel that will say whether the
// live heap is still over the limit.
func (h *heapWatch) over() (bool, <-chan bool) {
	limit := memoryLimit.Load()
	metrics.Read(h.samples)
	if sampleValue(h.samples, 0) <= limit {
		return false, nil
	}
	if sampleValue(h.samples, 2) > h.cycles && sampleValue(h.samples, 1) > limit {
		return true, nil
	}
	lastGC.Lock()
	defer lastGC.Unlock()
	if time.Since(lastGC.at) < gcInterval {
		return false, nil
	}
	lastGC.at = time.Now()
	verdict := make(chan bool, 1)
	go func() {
		runtime.GC()
		samples := heapSamples()
		metrics.Read(samples)
		verdict <- sampleValue(samples, 1) > limit
	}()
	return false, verdict
}
