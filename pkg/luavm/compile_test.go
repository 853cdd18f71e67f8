package luavm

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// evalProblem evaluates src as the file ci.lua and returns the one
// problem it reports and how long the evaluation took.
func evalProblem(tb testing.TB, ctx context.Context, src string, timeout time.Duration) (string, time.Duration) {
	tb.Helper()
	start := time.Now()
	L, _, err := Eval(ctx, "ci.lua", []byte(src), timeout)
	took := time.Since(start)
	if err == nil {
		L.Close()
		tb.Fatalf("Eval succeeded, want a problem")
	}
	var le *LoadError
	if !errors.As(err, &le) {
		tb.Fatalf("Eval: %v, want a *LoadError", err)
	}
	return le.Error(), took
}

// mustEval evaluates src as the file ci.lua and fails the test on any
// error.
func mustEval(tb testing.TB, src string) {
	tb.Helper()
	L, _, err := Eval(tb.Context(), "ci.lua", []byte(src), 0)
	if err != nil {
		tb.Fatalf("Eval: %v", err)
	}
	L.Close()
}

// deep returns open n times, then mid, then close n times.
func deep(open, mid, close string, n int) string {
	return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
}

// chain returns "a" joined n times with op.
func chain(op string, n int) string {
	return "a" + strings.Repeat(op+"a", n-1)
}

func TestEval_DeepNesting(t *testing.T) {
	// Each of these made gopher-lua's parser and compiler run for tens of
	// seconds, take gigabytes of stack or overflow it. They are refused
	// before parsing, quickly.
	levels := "too many syntax levels"
	for _, tt := range []struct {
		name, src string
	}{
		{"Tables", "local x = " + deep("{", "", "}", 500_000)},
		{"Lengths", "local x = " + strings.Repeat("#", 1_000_000) + "a"},
		{"Nots", "local x = " + strings.Repeat("not ", 250_000) + "a"},
		{"UnaryMinus", "local x = " + strings.Repeat("- ", 500_000) + "a"},
		{"Concat", "local x = " + chain("..", 120_000)},
		{"Sum", "local x = " + chain("+", 300_000)},
		{"Or", "local x = " + chain(" or ", 200_000)},
		{"Fields", "local x = " + chain(".", 500_000)},
		{"Calls", "f" + strings.Repeat("()", 500_000)},
		{"Functions", "local f = " + deep("function() return ", "1", " end", 30_000)},
		{"Blocks", deep("do ", "", " end ", 100_000)},
		{"Elseifs", "if a then " + strings.Repeat("elseif a then ", 70_000) + "end"},
		{"Parens", "local x = " + deep("(", "a", ")", 500_000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := "local x = 1\n" + tt.src + "\n"
			got, took := evalProblem(t, t.Context(), src, 0)
			if want := "ci.lua:2: " + levels; !strings.HasPrefix(got, want) {
				t.Errorf("got %.300q, want %q...", got, want)
			}
			if took > DefaultTimeout/2 {
				t.Errorf("took %s, want well under the %s limit", took, DefaultTimeout)
			}
		})
	}

	t.Run("JustUnderTheLimit", func(t *testing.T) {
		mustEval(t, "local a = 'x'\nlocal x = "+deep("{", "", "}", MaxSyntaxLevels-5)+"\nlocal y = "+chain("..", MaxSyntaxLevels-5))
	})

	t.Run("Config", func(t *testing.T) {
		_, _, err := Eval(t.Context(), "config.lua", []byte("return "+deep("{", "", "}", 100_000)), 0)
		if err == nil || !strings.HasPrefix(err.Error(), "config.lua:1: "+levels) {
			t.Errorf("got %v, want the nesting problem", err)
		}
	})
}

func TestCompile_MillionDeep(t *testing.T) {
	// The 2 MB file of the bug report, past the size limit: the nesting
	// check alone refuses it. gopher-lua's compiler overflowed the Go
	// stack on it ("fatal error: stack overflow"), which no recover stops.
	src := "local x = " + deep("{", "", "}", 1_000_000)
	_, err := compileNow(Source{Name: "ci.lua", Src: []byte(src)}, NewBudget())
	if prob, ok := ChunkProblem(err); !ok || !strings.Contains(prob.Msg, "too many syntax levels") {
		t.Errorf("got %v, want the nesting problem", err)
	}
}

func TestEval_CompileLimits(t *testing.T) {
	t.Run("FileSize", func(t *testing.T) {
		got, _ := evalProblem(t, t.Context(), "--"+strings.Repeat("x", MaxFileBytes), 0)
		if want := "ci.lua: the file is over the 1 MiB limit"; !strings.HasPrefix(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
	})

	t.Run("TotalSize", func(t *testing.T) {
		// The files of one load share a budget.
		fsys := fstest.MapFS{}
		for i := range 3 {
			fsys["m"+strconv.Itoa(i)+".lua"] = &fstest.MapFile{Data: []byte("--" + strings.Repeat("x", MaxFileBytes-10))}
		}
		b := NewBudget()
		var err error
		for i := 0; i < 3 && err == nil; i++ {
			name := "m" + strconv.Itoa(i) + ".lua"
			_, err = ReadSource(fsys, name, name, b)
		}
		prob, ok := ChunkProblem(err)
		if want := "m2.lua: the pipeline's Lua files add up to over the 2 MiB limit"; !ok || !strings.HasPrefix(prob.String(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	})

	t.Run("DistinctConstants", func(t *testing.T) {
		// The compiler looks each constant up in a list: quadratic time,
		// about two minutes for a 1 MiB table of distinct numbers.
		var src strings.Builder
		src.WriteString("local t = {")
		for i := 0; src.Len() < MaxFileBytes-20; i++ {
			src.WriteString(strconv.Itoa(i) + ",")
		}
		src.WriteString("}")
		got, took := evalProblem(t, t.Context(), src.String(), 0)
		if want := "ci.lua:1: too big to compile in time"; !strings.HasPrefix(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
		if took > DefaultTimeout/2 {
			t.Errorf("took %s, want well under the %s limit", took, DefaultTimeout)
		}
	})

	t.Run("Functions", func(t *testing.T) {
		// About 17 KiB each once compiled: 1 GB for this file.
		src := "local t = {" + strings.Repeat("function() end,", 60_000) + "}"
		got, _ := evalProblem(t, t.Context(), src, 0)
		if want := "ci.lua:1: too many functions"; !strings.HasPrefix(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
	})

	t.Run("NamesInScope", func(t *testing.T) {
		// Each name is looked up among the locals of every enclosing
		// function: 60 functions of 190 locals, then 200,000 names.
		var src strings.Builder
		for d := range 60 {
			src.WriteString("local function f" + strconv.Itoa(d) + "() local ")
			for i := range 190 {
				if i > 0 {
					src.WriteString(",")
				}
				src.WriteString("v" + strconv.Itoa(i))
			}
			src.WriteString(" = 1\n")
		}
		for src.Len() < MaxFileBytes-1000 {
			src.WriteString("g = gg\n")
		}
		src.WriteString(strings.Repeat("end\n", 60))
		got, took := evalProblem(t, t.Context(), src.String(), 0)
		if want := "too big to compile in time"; !strings.Contains(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
		if took > DefaultTimeout/2 {
			t.Errorf("took %s, want well under the %s limit", took, DefaultTimeout)
		}
	})
}

// slowSource is a plain file that takes a while to parse and compile,
// and no time to run: a function that is never called.
func slowSource() string {
	return "local function f()\n" + strings.Repeat("a = {b = 1, c = \"d\"} if a.b then a.c = a.b .. 'x' end\n", 12_000) + "end\n"
}

func TestEval_CompileTimeout(t *testing.T) {
	// The time limit and cancellation cover parsing and compiling: the
	// evaluation ends while gopher-lua is still compiling.
	mustEval(t, slowSource()) // warm up
	start := time.Now()
	mustEval(t, slowSource())
	full := time.Since(start)
	t.Logf("a full evaluation takes %s", full)

	t.Run("Timeout", func(t *testing.T) {
		got, took := evalProblem(t, t.Context(), slowSource(), time.Millisecond)
		if want := "ci.lua: did not finish compiling within 1ms; make it smaller"; !strings.HasPrefix(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
		if took > full/4 {
			t.Errorf("took %s, a quarter of the %s a full evaluation takes or more", took, full)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Millisecond, cancel)
		start := time.Now()
		_, _, err := Eval(ctx, "ci.lua", []byte(slowSource()), 0)
		took := time.Since(start)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if took > full/4 {
			t.Errorf("took %s, a quarter of the %s a full evaluation takes or more", took, full)
		}
	})
}
