package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// MaxFileBytes bounds one Lua file (ci.lua, a module, config.lua), and
// MaxTotalBytes the files of one load together: parsing and compiling
// take time and memory in proportion to them, about 1.5 s and 150 MB of
// heap for the worst MiB (with the other limits, measure.go).
const (
	MaxFileBytes  = 1 << 20
	MaxTotalBytes = 2 << 20
)

// chunkError is a Problem in a chunk's source: a syntax error or a limit
// it passes.
type chunkError struct {
	Problem Problem
}

func (e *chunkError) Error() string { return e.Problem.String() }

// source is one chunk to compile.
type source struct {
	name string // as the user knows the file
	src  []byte
	// hideSource keeps messages from quoting the source, for a file that
	// holds secrets (config.lua): a syntax error gives its kind and line.
	hideSource bool
}

// readSource reads the file p of fsys, refusing one over MaxFileBytes or
// one that would take b past MaxTotalBytes without reading it all.
func readSource(fsys fs.FS, p, shown string, b *budget) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if prob := sizeProblem(shown, len(src), b); prob != nil {
		return nil, &chunkError{*prob}
	}
	return src, nil
}

// sizeProblem charges n bytes to b and returns a Problem for a file over
// MaxFileBytes or a load over MaxTotalBytes.
func sizeProblem(name string, n int, b *budget) *Problem {
	if n > MaxFileBytes {
		return &Problem{File: name, Msg: fmt.Sprintf("the file is over the %d MiB limit for a Lua file; make it smaller", MaxFileBytes>>20)}
	}
	if b.bytes -= n; b.bytes < 0 {
		return &Problem{File: name, Msg: fmt.Sprintf("the pipeline's Lua files add up to over the %d MiB limit; make them smaller", MaxTotalBytes>>20)}
	}
	return nil
}

// compileChunk checks s against the limits and compiles it: the nesting
// (levelProblem, before parsing), the syntax tree (measure, charging b),
// then gopher-lua's compiler. All of it runs on a goroutine and
// compileChunk returns when ctx ends, with context.Cause(ctx), leaving
// the goroutine to finish on its own: gopher-lua's parser and compiler
// cannot be interrupted. The limits bound how long that takes.
//
// If cancel is not nil, compileChunk watches the heap as Guard does and
// cancels ctx with ErrMemory when it passes the limit.
//
// A problem in the source is a *chunkError.
func compileChunk(ctx context.Context, cancel context.CancelCauseFunc, s source, b *budget) (*lua.FunctionProto, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var (
		proto    *lua.FunctionProto
		err      error
		finished = make(chan struct{})
		spent    = *b // charged to b only once the compile is over
	)
	go func() {
		defer close(finished)
		defer func() {
			if v := recover(); v != nil {
				err = &chunkError{Problem{File: s.name, Msg: fmt.Sprintf("the Lua compiler failed (%v); simplify the code here", v)}}
			}
		}()
		proto, err = compileNow(s, &spent)
	}()
	if werr := watch(ctx, cancel, finished); werr != nil {
		return nil, werr
	}
	*b = spent
	return proto, err
}

// compileNow is compileChunk's work, on the calling goroutine.
func compileNow(s source, b *budget) (*lua.FunctionProto, error) {
	if prob := levelProblem(s.name, s.src); prob != nil {
		return nil, &chunkError{*prob}
	}
	chunk, err := parse.Parse(bytes.NewReader(s.src), s.name)
	if err != nil {
		return nil, &chunkError{syntaxProblem(s.name, s.src, err, s.hideSource)}
	}
	if prob := measure(s.name, chunk, b); prob != nil {
		return nil, &chunkError{*prob}
	}
	proto, err := lua.Compile(chunk, s.name)
	if err != nil {
		return nil, &chunkError{syntaxProblem(s.name, s.src, err, s.hideSource)}
	}
	return proto, nil
}

// isChunkError reports whether err is a problem in the source, and
// returns it.
func isChunkError(err error) (Problem, bool) {
	var cerr *chunkError
	if errors.As(err, &cerr) {
		return cerr.Problem, true
	}
	return Problem{}, false
}
