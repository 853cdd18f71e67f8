package luavm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// DefaultTimeout is how long loading Lua code (a pipeline with its
// modules, or config.lua) may take when the caller sets no other limit.
const DefaultTimeout = 10 * time.Second

// Eval runs src, a chunk the user knows as name (such as the operator's
// config.lua), in a fresh sandbox under timeout (DefaultTimeout when 0)
// and returns the state and the chunk's first return value. The caller
// closes the state when done with the value. A syntax or runtime error,
// a chunk over the limits of Compile, or one that outlasts the timeout
// (compiling included) is a *LoadError whose Problem names the file and
// line.
//
// A syntax error does not quote the source, which may hold secrets: the
// Problem gives the kind of error and the line.
func Eval(ctx context.Context, name string, src []byte, timeout time.Duration) (*lua.LState, lua.LValue, error) {
	timeout = cmp.Or(timeout, DefaultTimeout)
	timeCtx, cancelTime := context.WithTimeout(ctx, timeout)
	defer cancelTime()
	evalCtx, cancel := context.WithCancelCause(timeCtx)
	defer cancel(nil)
	b := NewBudget()
	if prob := sizeProblem(name, len(src), b); prob != nil {
		return nil, nil, &LoadError{Problems: []Problem{*prob}}
	}
	proto, err := Compile(evalCtx, cancel, Source{Name: name, Src: src, HideSource: true}, b)
	if err != nil {
		if prob, ok := ChunkProblem(err); ok {
			return nil, nil, &LoadError{Problems: []Problem{prob}}
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("evaluate %s: %w", name, ctx.Err())
		}
		msg := fmt.Sprintf("did not finish compiling within %s; make it smaller", timeout)
		if errors.Is(context.Cause(evalCtx), ErrMemory) {
			msg = ErrMemory.Error()
		}
		return nil, nil, &LoadError{Problems: []Problem{{File: name, Msg: msg}}}
	}
	L := New(evalCtx)
	fn := L.NewFunctionFromProto(proto)
	L.Push(fn)
	err = Guard(evalCtx, cancel, func() error { return L.PCall(0, 1, KeepMessage(L)) })
	if errors.Is(err, ErrStuck) {
		// L is still in use by the stuck call: leave it.
		why := fmt.Sprintf("did not finish within %s", timeout)
		if errors.Is(context.Cause(evalCtx), ErrMemory) {
			why = ErrMemory.Error()
		}
		return nil, nil, &LoadError{Problems: []Problem{{File: name, Msg: fmt.Sprintf("%s, and then %v", why, err)}}}
	}
	if err != nil {
		L.Close()
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("evaluate %s: %w", name, ctx.Err())
		}
		prob := Problem{File: name, Msg: err.Error()}
		var aerr *lua.ApiError
		if errors.As(err, &aerr) {
			prob = RuntimeProblem(aerr.Object, []string{name}, name)
		}
		switch {
		case errors.Is(context.Cause(evalCtx), ErrMemory):
			prob.Msg = ErrMemory.Error()
		case errors.Is(timeCtx.Err(), context.DeadlineExceeded):
			prob.Msg = fmt.Sprintf("did not finish within %s; is there an endless loop?", timeout)
		}
		return nil, nil, &LoadError{Problems: []Problem{prob}}
	}
	v := L.Get(-1)
	L.Pop(1)
	L.SetContext(ctx)
	return L, v, nil
}
