package luavm

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

// Source is one chunk to compile.
type Source struct {
	Name string // as the user knows the file; problems name it so
	Src  []byte
	// HideSource keeps messages from quoting the source, for a file that
	// holds secrets (config.lua): a syntax error gives its kind and line.
	HideSource bool
}

// ReadSource reads the file p of fsys, which problems name as shown,
// refusing one over MaxFileBytes or one that would take b past
// MaxTotalBytes without reading it all. A file over a limit is an error
// for which ChunkProblem reports the problem.
func ReadSource(fsys fs.FS, p, shown string, b *Budget) ([]byte, error) {
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
func sizeProblem(name string, n int, b *Budget) *Problem {
	if n > MaxFileBytes {
		return &Problem{File: name, Msg: fmt.Sprintf("the file is over the %d MiB limit for a Lua file; make it smaller", MaxFileBytes>>20)}
	}
	if b.bytes -= n; b.bytes < 0 {
		return &Problem{File: name, Msg: fmt.Sprintf("the pipeline's Lua files add up to over the %d MiB limit; make them smaller", MaxTotalBytes>>20)}
	}
	return nil
}

// Compile checks s against the limits and compiles it: the nesting
// (levelProblem, before parsing), the syntax tree (measure, charging b),
// then gopher-lua's compiler. All of it runs on a goroutine and
// Compile returns when ctx ends, with context.Cause(ctx), leaving
// the goroutine to finish on its own: gopher-lua's parser and compiler
// cannot be interrupted. The limits bound how long that takes.
//
// If cancel is not nil, Compile watches the heap as Guard does and
// cancels ctx with ErrMemory when it passes the limit.
//
// A problem in the source is an error for which ChunkProblem reports
// the problem.
func Compile(ctx context.Context, cancel context.CancelCauseFunc, s Source, b *Budget) (*lua.FunctionProto, error) {
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
				err = &chunkError{Problem{File: s.Name, Msg: fmt.Sprintf("the Lua compiler failed (%v); simplify the code here", v)}}
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

// compileNow is Compile's work, on the calling goroutine.
func compileNow(s Source, b *Budget) (*lua.FunctionProto, error) {
	if prob := levelProblem(s.Name, s.Src); prob != nil {
		return nil, &chunkError{*prob}
	}
	chunk, err := parse.Parse(bytes.NewReader(s.Src), s.Name)
	if err != nil {
		return nil, &chunkError{syntaxProblem(s.Name, s.Src, err, s.HideSource)}
	}
	if prob := measure(s.Name, chunk, b); prob != nil {
		return nil, &chunkError{*prob}
	}
	proto, err := lua.Compile(chunk, s.Name)
	if err != nil {
		return nil, &chunkError{syntaxProblem(s.Name, s.Src, err, s.HideSource)}
	}
	return proto, nil
}

// ChunkProblem reports whether err, from ReadSource or Compile, is a
// problem in the source (a syntax error or a limit it passes) that the
// user must fix, and returns it.
func ChunkProblem(err error) (Problem, bool) {
	var cerr *chunkError
	if errors.As(err, &cerr) {
		return cerr.Problem, true
	}
	return Problem{}, false
}
