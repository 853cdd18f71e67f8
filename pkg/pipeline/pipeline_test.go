package pipeline

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

// repo returns a file system holding .quire/ci.lua with src and the
// given modules (paths under .quire/).
func repo(src string, modules ...string) fstest.MapFS {
	fsys := fstest.MapFS{".quire/ci.lua": {Data: []byte(src)}}
	for i := 0; i+1 < len(modules); i += 2 {
		fsys[".quire/"+modules[i]] = &fstest.MapFile{Data: []byte(modules[i+1])}
	}
	return fsys
}

// mustLoad loads fsys and fails the test on any error.
func mustLoad(tb testing.TB, fsys fs.FS) *Pipeline {
	tb.Helper()
	p, err := Load(tb.Context(), fsys, Options{})
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	tb.Cleanup(p.Close)
	return p
}

// problems loads fsys and returns the problems it reports.
func problems(tb testing.TB, fsys fs.FS, opts Options) []string {
	tb.Helper()
	p, err := Load(tb.Context(), fsys, opts)
	if err == nil {
		p.Close()
		tb.Fatalf("Load succeeded, want problems")
	}
	var lerr *luavm.LoadError
	if !errors.As(err, &lerr) {
		tb.Fatalf("Load error %v is a %T, want *luavm.LoadError", err, err)
	}
	got := make([]string, len(lerr.Problems))
	for i, prob := range lerr.Problems {
		got[i] = prob.String()
	}
	if want := strings.Join(got, "\n"); err.Error() != want {
		tb.Errorf("Error() = %q, want the problems joined: %q", err.Error(), want)
	}
	return got
}

func TestLoad(t *testing.T) {
	t.Run("Valid", func(t *testing.T) {
		p := mustLoad(t, repo(`local ci = require("quire.ci")
ci.image("golang:1.26")

ci.job("test", {"quire/push"}, function(q) return {ok = true} end)
ci.job("build", {"test", "quire/push", "test"}, function(q) end)
`))
		if got, want := p.Image, "golang:1.26"; got != want {
			t.Errorf("Image = %q, want %q", got, want)
		}
		if got, want := jobIDs(p.Jobs), []string{"test", "build"}; !slices.Equal(got, want) {
			t.Errorf("Jobs = %v, want %v", got, want)
		}
		build := p.Job("build")
		if build == nil {
			t.Fatal("Job(build) = nil")
		}
		if got, want := build.Inputs, []string{"test", PushSource}; !slices.Equal(got, want) {
			t.Errorf("build.Inputs = %v, want %v", got, want)
		}
		if got, want := build.File+":"+strconv.Itoa(build.Line), ".quire/ci.lua:5"; got != want {
			t.Errorf("build at %s, want %s", got, want)
		}
		if build.Fn == nil {
			t.Error("build.Fn = nil")
		}
		if p.Job("nope") != nil {
			t.Error("Job(nope) != nil")
		}

		// The job functions run on the pipeline's state.
		p.L.Push(p.Job("test").Fn)
		if err := p.L.PCall(0, 1, nil); err != nil {
			t.Fatalf("call test: %v", err)
		}
		got, err := luavm.ToJSON(p.L.Get(-1))
		if err != nil || got != `{"ok":true}` {
			t.Errorf("test returned %q, %v; want {\"ok\":true}", got, err)
		}
	})

	t.Run("NoImage", func(t *testing.T) {
		p := mustLoad(t, repo(`require("quire.ci").job("a", {"quire/push"}, function() end)`))
		if p.Image != "" {
			t.Errorf("Image = %q, want empty", p.Image)
		}
	})

	t.Run("MissingFile", func(t *testing.T) {
		_, err := Load(t.Context(), fstest.MapFS{}, Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("Print", func(t *testing.T) {
		var lines []string
		opts := Options{Print: func(s string) { lines = append(lines, s) }}
		p, err := Load(t.Context(), repo(`print("hello", 1, nil, true)`), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if want := []string{"hello\t1\tnil\ttrue"}; !slices.Equal(lines, want) {
			t.Errorf("printed %q, want %q", lines, want)
		}
	})

	t.Run("RegisterWhileRunning", func(t *testing.T) {
		p := mustLoad(t, repo(`local ci = require("quire.ci")
ci.job("a", {"quire/push"}, function() ci.job("b", {"a"}, function() end) end)`))
		p.L.Push(p.Job("a").Fn)
		err := p.L.PCall(0, 0, nil)
		if err == nil || !strings.Contains(err.Error(), "ci.job can only be called while the pipeline loads") {
			t.Errorf("err = %v, want the registration to be refused", err)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		got := problems(t, repo("local n = 0\nwhile true do n = n + 1 end"), Options{Timeout: 100 * time.Millisecond})
		want := []string{".quire/ci.lua:2: the pipeline did not finish loading within 100ms; is there an endless loop?"}
		if !slices.Equal(got, want) {
			t.Errorf("problems = %q, want %q", got, want)
		}
	})

	t.Run("TimeoutInsidePcall", func(t *testing.T) {
		src := "while true do pcall(function() while true do end end) end"
		got := problems(t, repo(src), Options{Timeout: 100 * time.Millisecond})
		if len(got) != 1 || !strings.Contains(got[0], "did not finish loading within 100ms") {
			t.Errorf("problems = %q, want the timeout", got)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(20 * time.Millisecond)
			cancel()
		}()
		_, err := Load(ctx, repo("while true do end"), Options{})
		var lerr *luavm.LoadError
		if !errors.Is(err, context.Canceled) || errors.As(err, &lerr) {
			t.Errorf("err = %v, want context.Canceled and no *luavm.LoadError", err)
		}
	})

	t.Run("ContextAfterLoad", func(t *testing.T) {
		p, err := Load(t.Context(), repo(`
local ci = require("quire.ci")
ci.job("a", {"quire/push"}, function() local n = 0 for i = 1, 1000 do n = n + i end return {n = n} end)`),
			Options{Timeout: time.Millisecond * 50})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		// The load's deadline no longer applies once loading is over.
		time.Sleep(60 * time.Millisecond)
		p.L.Push(p.Job("a").Fn)
		if err := p.L.PCall(0, 1, nil); err != nil {
			t.Errorf("running a job after the load timeout: %v", err)
		}
	})
}

func TestLoad_Limits(t *testing.T) {
	t.Run("LongChain", func(t *testing.T) {
		p := mustLoad(t, repo(`local ci = require("quire.ci")
local prev = "quire/push"
for i = 1, 10000 do
  ci.job("j" .. i, {prev}, function() end)
  prev = "j" .. i
end`))
		order := p.Order()
		if len(order) != 10000 || order[0].ID != "j1" || order[9999].ID != "j10000" {
			t.Fatalf("Order() has %d jobs, want j1 .. j10000", len(order))
		}
		if !p.IsTransitiveInput("j10000", "quire/push") || p.IsTransitiveInput("j5000", "j5001") {
			t.Error("IsTransitiveInput is wrong along the chain")
		}
	})

	t.Run("TooManyJobs", func(t *testing.T) {
		got := problems(t, repo(`local ci = require("quire.ci")
for i = 1, 20000 do ci.job("j" .. i, {"quire/push"}, function() end) end`), Options{})
		want := []string{".quire/ci.lua:2: ci.job is called more than 10000 times; a pipeline registers at most 10000 jobs"}
		if !slices.Equal(got, want) {
			t.Errorf("problems = %q, want %q", got, want)
		}
	})

	t.Run("TooManyProblems", func(t *testing.T) {
		got := problems(t, repo(`local ci = require("quire.ci")
for i = 1, 1500 do ci.job("bad id", {"quire/push"}, function() end) end`), Options{})
		if len(got) != 1001 || got[1000] != ".quire/ci.lua: and 500 more problems" {
			t.Errorf("got %d problems ending in %q, want 1000 and a count of the rest", len(got), got[len(got)-1])
		}
	})
}

func TestPipeline_Order(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "Diamond",
			src: `ci.job("a", {"quire/push"}, f)
ci.job("b", {"a"}, f)
ci.job("c", {"a"}, f)
ci.job("d", {"b", "c"}, f)`,
			want: []string{"a", "b", "c", "d"},
		},
		{
			name: "DiamondDeclaredBackwards",
			src: `ci.job("d", {"b", "c"}, f)
ci.job("c", {"a"}, f)
ci.job("b", {"a"}, f)
ci.job("a", {"quire/push"}, f)`,
			want: []string{"a", "c", "b", "d"},
		},
		{
			name: "ReadyJobsInDeclarationOrder",
			src: `ci.job("x", {"quire/push"}, f)
ci.job("y", {"x"}, f)
ci.job("z", {"quire/push"}, f)`,
			want: []string{"x", "y", "z"},
		},
		{
			name: "LaterDeclaredInputFirst",
			src: `ci.job("z", {"y"}, f)
ci.job("y", {"quire/push"}, f)
ci.job("w", {"quire/push"}, f)`,
			want: []string{"y", "z", "w"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLoad(t, repo("local ci = require('quire.ci')\nlocal f = function() end\n"+tt.src))
			if got := jobIDs(p.Order()); !slices.Equal(got, tt.want) {
				t.Errorf("Order() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPipeline_IsTransitiveInput(t *testing.T) {
	p := mustLoad(t, repo(`local ci = require("quire.ci")
local f = function() end
ci.job("a", {"quire/push"}, f)
ci.job("b", {"a"}, f)
ci.job("c", {"a"}, f)
ci.job("d", {"b", "c"}, f)
ci.job("e", {"quire/push"}, f)`))
	tests := []struct {
		job, name string
		want      bool
	}{
		{"d", "b", true},
		{"d", "c", true},
		{"d", "a", true},
		{"d", "quire/push", true},
		{"b", "a", true},
		{"b", "quire/push", true},
		{"b", "c", false},
		{"b", "d", false},
		{"a", "b", false},
		{"d", "d", false},
		{"d", "e", false},
		{"nope", "a", false},
		{"a", "nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.job+"/"+tt.name, func(t *testing.T) {
			if got := p.IsTransitiveInput(tt.job, tt.name); got != tt.want {
				t.Errorf("IsTransitiveInput(%q, %q) = %v, want %v", tt.job, tt.name, got, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	t.Run("Valid", func(t *testing.T) {
		file := filepath.Join("testdata", "file", "ci.lua")
		p, err := LoadFile(t.Context(), file, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if got, want := jobIDs(p.Order()), []string{"test", "build"}; !slices.Equal(got, want) {
			t.Errorf("Order() = %v, want %v", got, want)
		}
		test := p.Job("test")
		if got, want := test.File+":"+strconv.Itoa(test.Line), filepath.Join("testdata", "file", "helpers.lua")+":5"; got != want {
			t.Errorf("test registered at %s, want %s", got, want)
		}
		if got, want := p.Job("build").File, file; got != want {
			t.Errorf("build.File = %s, want %s", got, want)
		}
	})

	t.Run("ModuleSyntaxError", func(t *testing.T) {
		_, err := LoadFile(t.Context(), filepath.Join("testdata", "broken", "ci.lua"), Options{})
		want := filepath.Join("testdata", "broken", "helpers.lua") + ":2: syntax error near 'return'"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := LoadFile(t.Context(), filepath.Join(t.TempDir(), "ci.lua"), Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
}

// jobIDs returns the ids of jobs.
func jobIDs(jobs []*Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}
