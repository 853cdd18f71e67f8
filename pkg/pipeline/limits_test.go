package pipeline

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

// The limits themselves are tested in package luavm; these tests check
// that Load applies them to the pipeline file and its modules, and
// reports them as the loader does.

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
	var le *luavm.LoadError
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

func TestLoad_CompileLimits(t *testing.T) {
	levels := "too many syntax levels"

	t.Run("Nesting", func(t *testing.T) {
		src := "local ci = require(\"quire.ci\")\nlocal x = " + deep("{", "", "}", 500_000) + "\n"
		got, _ := loadProblem(t, t.Context(), src, Options{})
		if want := ".quire/ci.lua:2: " + levels; !strings.HasPrefix(got, want) {
			t.Errorf("got %.300q, want %q...", got, want)
		}
	})

	t.Run("JustUnderTheLimit", func(t *testing.T) {
		mustLoad(t, repo("local a = 'x'\nlocal x = "+deep("{", "", "}", luavm.MaxSyntaxLevels-5)+"\nlocal y = "+chain("..", luavm.MaxSyntaxLevels-5)))
	})

	t.Run("Module", func(t *testing.T) {
		got, _ := loadProblem(t, t.Context(), `require("deep")`, Options{}, "deep.lua", "\nreturn "+deep("{", "", "}", 100_000))
		if want := ".quire/deep.lua:2: " + levels; !strings.Contains(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
		}
	})

	t.Run("FileSize", func(t *testing.T) {
		got, _ := loadProblem(t, t.Context(), "--"+strings.Repeat("x", luavm.MaxFileBytes), Options{})
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
			mods = append(mods, name+".lua", "--"+strings.Repeat("x", luavm.MaxFileBytes-10))
		}
		got, _ := loadProblem(t, t.Context(), src.String(), Options{}, mods...)
		if want := "add up to over the 2 MiB limit"; !strings.Contains(got, want) {
			t.Errorf("got %.300q, want %q", got, want)
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
