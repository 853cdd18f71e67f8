package pipeline

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loadProblem loads fsys and returns the one problem it reports and how
// long the load took.
func loadProblem(tb testing.TB, ctx context.Context, src string, opts Options, modules ...string) (string, time.Duration) {
	tb.Helper()
	start := time.Now()
	p, err := Load(ctx, repo(src, modules...), opts)
	took := time.Since(start)
	if err == nil {
		p.Close()
		tb.Fatalf("Load succeeded, want a problem")
	}
	var le *LoadError
	if !errors.As(err, &le) {
		tb.Fatalf("Load: %v, want a *LoadError", err)
	}
	return le.Error(), took
}

// deep returns open n times, then mid, then close n times.
func deep(open, mid, close string, n int) string {
	return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
}

// chain returns "a" joined n times with op.
func chain(op string, n int) string {
	return "a" + strings.Repeat(op+"a", n-1)
}

func TestLoad_DeepNesting(t *testing.T) {
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
			src := "local ci = require(\"quire.ci\")\n" + tt.src + "\n"
			got, took := loadProblem(t, t.Context(), src, Options{})
			if want := ".quire/ci.lua:2: " + levels; !strings.HasPrefix(got, want) {
				t.Errorf("got %.300q, want %q...", got, want)
			}
			if took > DefaultTimeout/2 {
				t.Errorf("took %s, want well under the %s limit", took, DefaultTimeout)
			}
		})
	}

	t.Run("JustUnderTheLimit", func(t *testing.T) {
		mustLoad(t, repo("local a = 'x'\nlocal x = "+deep("{", "", "}", MaxSyntaxLevels-5)+"\nlocal y = "+chain("..", MaxSyntaxLevels-5)))
	})

	t.Run("Module", func(t *testing.T) {
		got, _ := loadProblem(t, t.Context(), `require("deep")`, Options{}, "deep.lua", "\nreturn "+deep("{", "", "}", 100_000))
		if want := ".quire/deep.lua:2: " + levels; !strings.Contains(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
	})

	t.Run("Eval", func(t *testing.T) {
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
	_, err := compileNow(source{name: "ci.lua", src: []byte(src)}, newBudget())
	if prob, ok := isChunkError(err); !ok || !strings.Contains(prob.Msg, "too many syntax levels") {
		t.Errorf("got %v, want the nesting problem", err)
	}
}

func TestLoad_CompileLimits(t *testing.T) {
	t.Run("FileSize", func(t *testing.T) {
		got, _ := loadProblem(t, t.Context(), "--"+strings.Repeat("x", MaxFileBytes), Options{})
		if want := ".quire/ci.lua: the file is over the 1 MiB limit"; !strings.HasPrefix(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
	})

	t.Run("TotalSize", func(t *testing.T) {
		var mods []string
		var src strings.Builder
		for i := range 3 {
			name := "m" + strconv.Itoa(i)
			src.WriteString("require(\"" + name + "\")\n")
			mods = append(mods, name+".lua", "--"+strings.Repeat("x", MaxFileBytes-10))
		}
		got, _ := loadProblem(t, t.Context(), src.String(), Options{}, mods...)
		if want := "add up to over the 2 MiB limit"; !strings.Contains(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
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
		got, took := loadProblem(t, t.Context(), src.String(), Options{})
		if want := ".quire/ci.lua:1: too big to compile in time"; !strings.HasPrefix(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
		if took > DefaultTimeout/2 {
			t.Errorf("took %s, want well under the %s limit", took, DefaultTimeout)
		}
	})

	t.Run("Functions", func(t *testing.T) {
		// About 17 KiB each once compiled: 1 GB for this file.
		src := "local t = {" + strings.Repeat("function() end,", 60_000) + "}"
		got, _ := loadProblem(t, t.Context(), src, Options{})
		if want := ".quire/ci.lua:1: too many functions"; !strings.HasPrefix(got, want) {
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
		got, took := loadProblem(t, t.Context(), src.String(), Options{})
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

func TestLoad_CompileTimeout(t *testing.T) {
	// The time limit and cancellation cover parsing and compiling: the
	// load ends while gopher-lua is still compiling.
	mustLoad(t, repo(slowSource())) // warm up
	start := time.Now()
	mustLoad(t, repo(slowSource()))
	full := time.Since(start)
	t.Logf("a full load takes %s", full)

	t.Run("Timeout", func(t *testing.T) {
		got, took := loadProblem(t, t.Context(), slowSource(), Options{Timeout: time.Millisecond})
		if want := ".quire/ci.lua: the pipeline did not finish compiling within 1ms"; !strings.HasPrefix(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
		if took > full/4 {
			t.Errorf("took %s, a quarter of the %s a full load takes or more", took, full)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Millisecond, cancel)
		start := time.Now()
		_, err := Load(ctx, repo(slowSource()), Options{})
		took := time.Since(start)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if took > full/4 {
			t.Errorf("took %s, a quarter of the %s a full load takes or more", took, full)
		}
	})
}
