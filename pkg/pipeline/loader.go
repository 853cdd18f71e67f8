package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

// ciModule is the name under which the registration API is required.
const ciModule = "quire.ci"

// loader holds what the registration API and require collect while a
// pipeline file is evaluated.
type loader struct {
	fsys    fs.FS
	modDir  string                     // directory in fsys that require reads modules from
	display func(fsPath string) string // the name a user knows a file in fsys by

	files    []string         // chunk names loaded so far, for attributing errors
	decls    []*decl          // every ci.job call, in call order
	first    map[string]*decl // valid ids -> their registration
	problems []luavm.Problem
	dropped  int // problems past maxProblems
	calls    int // ci.job calls

	image    string
	imageAt  *luavm.Problem // where ci.image was first called
	mirrorAt *luavm.Problem // where ci.mirror was first called

	ci      *lua.LTable
	loaded  map[string]lua.LValue
	loading []string      // modules being loaded, outermost first
	closed  bool          // set when loading is over: no more registrations
	budget  *luavm.Budget // what the files may still cost to read and compile
}

// decl is one ci.job call.
type decl struct {
	job      Job
	named    bool // the id is valid and registered here first: a graph node
	inputsOK bool // job.Inputs is a valid, non-empty list
}

// newLoader returns a loader that reads modules from modDir in fsys.
func newLoader(fsys fs.FS, modDir string, display func(string) string) *loader {
	return &loader{fsys: fsys, modDir: modDir, display: display, first: map[string]*decl{}, loaded: map[string]lua.LValue{}, budget: luavm.NewBudget()}
}

// install sets the restricted require and creates the quire.ci table,
// on which reading a function it lacks is an error naming it.
// ci.mirror registers the job quire/mirror itself, since idProblem
// refuses ids with '/' from users.
func (ld *loader) install(L *lua.LState) {
	ld.ci = L.NewTable()
	ld.ci.RawSetString("job", L.NewFunction(ld.ciJob))
	ld.ci.RawSetString("image", L.NewFunction(ld.ciImage))
	ld.ci.RawSetString("mirror", L.NewFunction(ld.ciMirror))
	luavm.Strict(L, ld.ci, "ci", "function") // ci.jobb(...) names the typo
	ld.loaded[ciModule] = ld.ci
	L.SetGlobal("require", L.NewFunction(ld.require))
}

// maxProblems is how many problems a LoadError lists; it counts the rest.
const maxProblems = 1000

// problem records a problem at file:line.
func (ld *loader) problem(file string, line int, format string, args ...any) {
	if len(ld.problems) >= maxProblems {
		ld.dropped++
		return
	}
	ld.problems = append(ld.problems, luavm.Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// callerPos returns the file and line of the innermost Lua function on
// the call stack, which is where a registration function was called from.
func callerPos(L *lua.LState) (string, int) {
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			return "", 0
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			continue
		}
		if dbg.What != "G" && dbg.Source != "" {
			return dbg.Source, max(dbg.CurrentLine, 0)
		}
	}
}

// ciJob is ci.job(id, inputs, fn). Mistakes in its arguments are recorded
// as problems, not raised, so that one evaluation finds all of them.
func (ld *loader) ciJob(L *lua.LState) int {
	if ld.closed {
		L.RaiseError("ci.job can only be called while the pipeline loads, not while a job runs")
	}
	file, line := callerPos(L)
	if ld.calls++; ld.calls > maxJobs {
		if ld.calls == maxJobs+1 {
			ld.problem(file, line, "ci.job is called more than %d times; a pipeline registers at most %d jobs", maxJobs, maxJobs)
		}
		return 0
	}
	nargs := L.GetTop()
	if nargs > 0 && L.Get(1) == ld.ci {
		ld.problem(file, line, "ci.job is a function, not a method: call ci.job(id, inputs, fn), not ci:job(...)")
		return 0
	}
	idv, ok := L.Get(1).(lua.LString)
	if !ok {
		ld.problem(file, line, "ci.job needs the job id as its first argument, a string such as \"test\"; got %s", luavm.Describe(L.Get(1)))
		return 0
	}
	id := string(idv)
	d := &decl{job: Job{ID: id, File: file, Line: line}}

	// The id: valid and not taken.
	if msg := idProblem(id); msg != "" {
		ld.problem(file, line, "%s", msg)
	} else if first := ld.first[id]; first != nil {
		ld.problem(file, line, "Job %s is registered twice; the first registration, at %s:%d, wins", quoteID(id), first.job.File, first.job.Line)
	} else {
		d.named = true
		ld.first[id] = d
	}
	ld.decls = append(ld.decls, d)

	// The arguments.
	if nargs != 3 {
		ld.problem(file, line, "Job %s: ci.job takes 3 arguments (id, inputs, fn); it got %d", quoteID(id), nargs)
		return 0
	}
	d.job.Inputs, d.inputsOK = ld.inputs(file, line, id, L.Get(2))
	fn, ok := L.Get(3).(*lua.LFunction)
	if !ok {
		ld.problem(file, line, "Job %s needs a function as its third argument; got %s", quoteID(id), luavm.Describe(L.Get(3)))
	}
	d.job.Fn = fn
	return 0
}

// inputs checks the inputs argument of ci.job and returns it as a list
// without repeats.
func (ld *loader) inputs(file string, line int, id string, v lua.LValue) ([]string, bool) {
	t, ok := v.(*lua.LTable)
	if !ok {
		ld.problem(file, line, "Job %s needs a list of inputs as its second argument, such as {\"quire/push\"}; got %s", quoteID(id), luavm.Describe(v))
		return nil, false
	}
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	count := len(keys)
	badKey := lua.LValue(nil)
	for _, k := range keys {
		if !luavm.IsListKey(k, count) {
			badKey = k
			break
		}
	}
	if badKey != nil {
		ld.problem(file, line, "Job %s has inputs with the key %s; inputs are a list of strings such as {\"quire/push\", \"build\"}", quoteID(id), luavm.Describe(badKey))
		return nil, false
	}
	if count == 0 {
		ld.problem(file, line, "Job '%s' has empty inputs. Pass {\"quire/push\"} (or another input) so it has something to fire it.", id)
		return nil, false
	}
	var list []string
	ok = true
	for i := 1; i <= count; i++ {
		s, isStr := t.RawGetInt(i).(lua.LString)
		if !isStr {
			ld.problem(file, line, "Job %s has input #%d %s; inputs are strings naming a job or a source such as \"quire/push\"", quoteID(id), i, luavm.Describe(t.RawGetInt(i)))
			ok = false
			continue
		}
		if !slices.Contains(list, string(s)) {
			list = append(list, string(s))
		}
	}
	return list, ok
}

// ciImage is ci.image(name).
func (ld *loader) ciImage(L *lua.LState) int {
	if ld.closed {
		L.RaiseError("ci.image can only be called while the pipeline loads, not while a job runs")
	}
	file, line := callerPos(L)
	name, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok || name == "" {
		ld.problem(file, line, "ci.image takes one argument, a non-empty image name such as \"golang:1.26\"; got %s", describeArgs(L))
		return 0
	}
	if ld.imageAt != nil {
		ld.problem(file, line, "ci.image is called a second time; it may be called only once, and the first call, at %s:%d, wins", ld.imageAt.File, ld.imageAt.Line)
		return 0
	}
	ld.image = string(name)
	ld.imageAt = &luavm.Problem{File: file, Line: line}
	return 0
}

// require loads quire.ci or a module from the modules directory: "a.b"
// is the file a/b.lua there. Modules are evaluated once; later calls
// return the cached result.
func (ld *loader) require(L *lua.LState) int {
	name := L.CheckString(1)
	if v, ok := ld.loaded[name]; ok {
		L.Push(v)
		return 1
	}
	if !validModuleName(name) {
		L.RaiseError("cannot require %q: a module name is words of letters, digits, '_' and '-' joined by dots, naming a file under .quire/ (\"lib.go\" is .quire/lib/go.lua)", name)
	}
	if i := slices.Index(ld.loading, name); i >= 0 {
		chain := append(slices.Clone(ld.loading[i:]), name)
		L.RaiseError("modules require each other in a loop: %s", strings.Join(chain, " -> "))
	}

	// Read and compile the file.
	file := path.Join(ld.modDir, strings.ReplaceAll(name, ".", "/")+".lua")
	shown := ld.display(file)
	src, err := luavm.ReadSource(ld.fsys, file, shown, ld.budget)
	if prob, ok := luavm.ChunkProblem(err); ok {
		L.Error(lua.LString(prob.String()), 0)
	} else if errors.Is(err, fs.ErrNotExist) {
		L.RaiseError("module %q not found: there is no file %s (only quire.ci and files under .quire/ can be required)", name, shown)
	} else if err != nil {
		L.RaiseError("read module %s: %s", shown, err.Error())
	}
	ld.files = append(ld.files, shown)
	// The enclosing Guard (of the load or the job) watches the heap.
	proto, err := luavm.Compile(L.Context(), nil, luavm.Source{Name: shown, Src: src}, ld.budget)
	if prob, ok := luavm.ChunkProblem(err); ok {
		L.Error(lua.LString(prob.String()), 0)
	} else if err != nil {
		L.RaiseError("module %s did not finish compiling: %s", shown, err.Error())
	}
	fn := L.NewFunctionFromProto(proto)

	// Run it, keeping what it returns, as Lua does.
	ld.loading = append(ld.loading, name)
	defer func() { ld.loading = ld.loading[:len(ld.loading)-1] }()
	L.Push(fn)
	L.Call(0, 1)
	v := L.Get(-1)
	L.Pop(1)
	if v == lua.LNil {
		v = lua.LTrue
	}
	ld.loaded[name] = v
	L.Push(v)
	return 1
}

// validModuleName reports whether name is dot-separated words of
// [A-Za-z0-9_-], which cannot name anything outside the modules directory.
func validModuleName(name string) bool {
	for _, word := range strings.Split(name, ".") {
		if word == "" {
			return false
		}
		for _, c := range []byte(word) {
			if !isWordByte(c) {
				return false
			}
		}
	}
	return true
}

// isWordByte reports whether c is a letter, digit, '_' or '-'.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// describeArgs describes the arguments of the running Go function.
func describeArgs(L *lua.LState) string {
	if L.GetTop() == 0 {
		return "no arguments"
	}
	parts := make([]string, L.GetTop())
	for i := range parts {
		parts[i] = luavm.Describe(L.Get(i + 1))
	}
	return strings.Join(parts, ", ")
}
