// Package pipeline loads and validates a repository's .quire/ci.lua: it
// evaluates the file in the sandboxed VM of package luavm, with a require
// restricted to .quire/, collects the jobs that the file registers with
// require("quire.ci"), and checks the job graph.
// It does not run jobs; the runner calls each Job's Fn on the Pipeline's
// Lua state.
package pipeline

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

// File is where a repository keeps its pipeline.
const File = ".quire/ci.lua"

// Job is one registered job.
type Job struct {
	ID     string
	Inputs []string // job ids and sources, without repeats
	Line   int      // line of the ci.job call in File
	File   string   // ".quire/ci.lua", or the module that registered the job
	Fn     *lua.LFunction
	// Mirror is set for the job ci.mirror registers (MirrorJob), which
	// has no Fn: the runner tags and pushes as Mirror says.
	Mirror *Mirror
}

// Pipeline is a loaded, validated pipeline. Its Lua state stays open for
// running the jobs; Close releases it. A Pipeline is not safe for
// concurrent use: a Lua state runs one thing at a time.
type Pipeline struct {
	L     *lua.LState
	Jobs  []*Job // declaration order
	Image string // ci.image, "" if unset

	order  []*Job
	byID   map[string]*Job
	closer io.Closer // the directory LoadFile opened, or nil
}

// Options tune Load and LoadFile.
type Options struct {
	// Timeout bounds reading, parsing, compiling and evaluating the
	// files (luavm.DefaultTimeout when 0).
	Timeout time.Duration
	// Print receives each line the files print while they load; nil
	// discards them. It serves the load only: the runner gives each job
	// a print of its own.
	Print func(line string)
}

// Load evaluates .quire/ci.lua from fsys, which is rooted at the
// repository's root, and validates the jobs it registers.
// require("a.b") reads .quire/a/b.lua from fsys.
//
// A Lua syntax or runtime error, a file over the limits of luavm.Compile
// (size, nesting, cost to compile), a load that outlasts opts.Timeout,
// and validation problems give a *luavm.LoadError listing every problem.
// A missing .quire/ci.lua gives an error that matches fs.ErrNotExist. When ctx ends
// during the load, the error wraps ctx.Err(). After a successful load the
// Lua state's context is ctx; the runner may set another one.
func Load(ctx context.Context, fsys fs.FS, opts Options) (*Pipeline, error) {
	same := func(p string) string { return p }
	return load(ctx, fsys, File, newLoader(fsys, ".quire", same), opts, nil)
}

// LoadFile is Load for a pipeline file outside a repository, as in
// `validate --file path/to/ci.lua`: the file's directory plays the part of
// .quire/ for require, and problems name files as path was given.
func LoadFile(ctx context.Context, path string, opts Options) (*Pipeline, error) {
	dir, base := filepath.Split(path)
	root, err := os.OpenRoot(cmp.Or(dir, "."))
	if err != nil {
		return nil, fmt.Errorf("open pipeline directory: %w", err)
	}
	display := func(p string) string {
		if p == base {
			return path
		}
		return filepath.Join(dir, filepath.FromSlash(p))
	}
	fsys := root.FS()
	p, err := load(ctx, fsys, base, newLoader(fsys, ".", display), opts, root)
	if err != nil {
		root.Close()
		return nil, err
	}
	return p, nil
}

// load evaluates the file main of fsys with ld and validates it.
func load(ctx context.Context, fsys fs.FS, main string, ld *loader, opts Options, closer io.Closer) (*Pipeline, error) {
	shown := ld.display(main)
	src, err := luavm.ReadSource(fsys, main, shown, ld.budget)
	if prob, ok := luavm.ChunkProblem(err); ok {
		return nil, &luavm.LoadError{Problems: []luavm.Problem{prob}}
	}
	if err != nil {
		return nil, fmt.Errorf("read pipeline %s: %w", shown, err)
	}
	timeout := cmp.Or(opts.Timeout, luavm.DefaultTimeout)
	timeCtx, cancelTime := context.WithTimeout(ctx, timeout)
	defer cancelTime()
	loadCtx, cancel := context.WithCancelCause(timeCtx)
	defer cancel(nil)

	// Compile the file, within the time limit.
	proto, err := luavm.Compile(loadCtx, cancel, luavm.Source{Name: shown, Src: src}, ld.budget)
	if err != nil {
		if prob, ok := luavm.ChunkProblem(err); ok {
			return nil, &luavm.LoadError{Problems: []luavm.Problem{prob}}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load pipeline %s: %w", shown, ctx.Err())
		}
		msg := fmt.Sprintf("the pipeline did not finish compiling within %s; make it smaller", timeout)
		if errors.Is(context.Cause(loadCtx), luavm.ErrMemory) {
			msg = "the pipeline stopped compiling: " + luavm.ErrMemory.Error()
		}
		return nil, &luavm.LoadError{Problems: []luavm.Problem{{File: shown, Msg: msg}}}
	}

	L := luavm.New(loadCtx)
	luavm.SetPrint(L, opts.Print)
	ld.install(L)
	// Requiring the pipeline file itself is a loop, not a second evaluation.
	ld.loading = []string{strings.TrimSuffix(path.Base(main), ".lua")}
	ok, stuck := false, false
	defer func() {
		if !ok && !stuck {
			L.Close()
		}
	}()

	// Evaluate the file.
	fn := L.NewFunctionFromProto(proto)
	ld.files = append(ld.files, shown)
	L.Push(fn)
	err = luavm.Guard(loadCtx, cancel, func() error { return L.PCall(0, 0, luavm.KeepMessage(L)) })
	if errors.Is(err, luavm.ErrStuck) {
		stuck = true
		why := fmt.Sprintf("did not finish loading within %s", timeout)
		if errors.Is(context.Cause(loadCtx), luavm.ErrMemory) {
			why = "stopped loading: " + luavm.ErrMemory.Error()
		}
		return nil, &luavm.LoadError{Problems: []luavm.Problem{{File: shown, Msg: fmt.Sprintf("the pipeline %s, and then %v", why, err)}}}
	}
	ld.closed = true
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load pipeline %s: %w", shown, ctx.Err())
		}
		prob := luavm.Problem{File: shown, Msg: err.Error()}
		var aerr *lua.ApiError
		if errors.As(err, &aerr) {
			prob = luavm.RuntimeProblem(aerr.Object, ld.files, shown)
		}
		switch {
		case errors.Is(context.Cause(loadCtx), luavm.ErrMemory):
			prob.Msg = "the pipeline stopped loading: " + luavm.ErrMemory.Error()
		case errors.Is(timeCtx.Err(), context.DeadlineExceeded):
			prob.Msg = fmt.Sprintf("the pipeline did not finish loading within %s; is there an endless loop?", timeout)
		}
		ld.problems = append(ld.problems, prob)
		return nil, ld.loadError(shown)
	}

	// Validate what it registered.
	jobs := ld.graph()
	if len(ld.problems) > 0 {
		return nil, ld.loadError(shown)
	}
	L.SetContext(ctx)
	p := &Pipeline{L: L, Jobs: jobs, Image: ld.image, closer: closer}
	p.index()
	ok = true
	return p, nil
}

// loadError returns the problems found, those in the main file first,
// then by file and line.
func (ld *loader) loadError(main string) *luavm.LoadError {
	probs := slices.Clone(ld.problems)
	slices.SortStableFunc(probs, func(a, b luavm.Problem) int {
		return cmp.Or(
			cmp.Compare(btoi(a.File != main), btoi(b.File != main)),
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line))
	})
	if ld.dropped > 0 {
		probs = append(probs, luavm.Problem{File: main, Msg: fmt.Sprintf("and %d more problems", ld.dropped)})
	}
	return &luavm.LoadError{Problems: probs}
}

// index computes the run order and the map of jobs by id.
func (p *Pipeline) index() {
	p.byID = make(map[string]*Job, len(p.Jobs))
	for _, j := range p.Jobs {
		p.byID[j.ID] = j
	}

	// Run order: repeatedly the first declared job whose inputs have all
	// run (Kahn's algorithm with the ready jobs in a heap of declaration
	// indexes). Validation ruled out cycles, so every job is picked.
	waiting := make([]int, len(p.Jobs)) // inputs of each job yet to run
	fires := make(map[string][]int, len(p.Jobs))
	ready := &indexHeap{}
	for i, j := range p.Jobs {
		for _, in := range j.Inputs {
			if !IsSource(in) {
				waiting[i]++
				fires[in] = append(fires[in], i)
			}
		}
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	for ready.Len() > 0 {
		j := p.Jobs[heap.Pop(ready).(int)]
		p.order = append(p.order, j)
		for _, i := range fires[j.ID] {
			if waiting[i]--; waiting[i] == 0 {
				heap.Push(ready, i)
			}
		}
	}
}

// indexHeap is a min-heap of ints for container/heap.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Close closes the Lua state and whatever the load opened. It is safe to
// call more than once.
func (p *Pipeline) Close() {
	if p.L != nil {
		p.L.Close()
		p.L = nil
	}
	if p.closer != nil {
		p.closer.Close()
		p.closer = nil
	}
}

// Order returns the jobs in run order: each job after its inputs, and of
// the jobs whose inputs have all run, the first declared.
func (p *Pipeline) Order() []*Job {
	return slices.Clone(p.order)
}

// Job returns the job with that id, or nil.
func (p *Pipeline) Job(id string) *Job {
	return p.byID[id]
}

// IsTransitiveInput reports whether name, a job id or a source, is an
// input of job, directly or through other jobs. A job is not its own
// input.
func (p *Pipeline) IsTransitiveInput(job, name string) bool {
	start := p.byID[job]
	if start == nil {
		return false
	}
	seen := map[string]bool{}
	stack := []*Job{start}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, in := range j.Inputs {
			if in == name {
				return true
			}
			if !seen[in] {
				seen[in] = true
				if next := p.byID[in]; next != nil {
					stack = append(stack, next)
				}
			}
		}
	}
	return false
}
