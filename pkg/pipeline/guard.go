package pipeline

import (
	"context"
	"errors"
	"time"
)

// StuckGrace is how long a Lua call may go on after its context ended
// before Guard gives up on it.
const StuckGrace = 2 * time.Second

// ErrStuck is returned by Guard for a call that did not stop.
var ErrStuck = errors.New("the Lua code did not stop when asked (a library call that cannot be interrupted, such as a pathological string pattern?)")

// Guard runs call on its own goroutine and waits for it. gopher-lua
// checks the context between VM instructions but not inside a library
// call: a backtracking string.find can run for hours. When ctx ends and
// call has not returned StuckGrace later, Guard returns ErrStuck and
// leaves it running; the caller must then never touch that Lua state
// again (the process exiting ends it).
func Guard(ctx context.Context, call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
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
