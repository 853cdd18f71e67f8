package pipeline

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

func TestLoader_Require(t *testing.T) {
	t.Run("HelperModule", func(t *testing.T) {
		p := mustLoad(t, repo(`local ci = require("quire.ci")
local jobs = require("lib.jobs")
jobs.go_test("test")
ci.job("build", {"test", "lint"}, function() return jobs.helper() end)
loaded_again = require("lib.jobs") == jobs
`, "lib/jobs.lua", `local ci = require("quire.ci")
evaluations = (evaluations or 0) + 1
local M = {}
function M.go_test(id) ci.job(id, {"quire/push"}, function() end) end
function M.helper() return {from = "helper"} end
ci.job("lint", {"quire/push"}, function() end)
return M
`))
		if got, want := jobIDs(p.Jobs), []string{"lint", "test", "build"}; !slices.Equal(got, want) {
			t.Errorf("Jobs = %v, want %v", got, want)
		}
		for _, tt := range []struct{ id, at string }{
			{"lint", ".quire/lib/jobs.lua:6"},
			{"test", ".quire/lib/jobs.lua:4"},
			{"build", ".quire/ci.lua:4"},
		} {
			j := p.Job(tt.id)
			if got := j.File + ":" + strconv.Itoa(j.Line); got != tt.at {
				t.Errorf("job %s registered at %s, want %s", tt.id, got, tt.at)
			}
		}
		if got := p.L.GetGlobal("loaded_again"); got != lua.LTrue {
			t.Errorf("second require returned another value (loaded_again = %v)", got)
		}
		if got := p.L.GetGlobal("evaluations"); got != lua.LNumber(1) {
			t.Errorf("module evaluated %v times, want 1", got)
		}

		// A job calls the helper the module returned.
		p.L.Push(p.Job("build").Fn)
		if err := p.L.PCall(0, 1, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := luavm.ToJSON(p.L.Get(-1)); got != `{"from":"helper"}` {
			t.Errorf("build returned %s", got)
		}
	})

	t.Run("ModuleReturningNothing", func(t *testing.T) {
		p := mustLoad(t, repo(`got = require("empty")`, "empty.lua", `local x = 1`))
		if got := p.L.GetGlobal("got"); got != lua.LTrue {
			t.Errorf("require returned %v, want true", got)
		}
	})

	t.Run("RequireInsideJob", func(t *testing.T) {
		p := mustLoad(t, repo(`require("quire.ci").job("a", {"quire/push"}, function() return require("late").value end)`,
			"late.lua", `return {value = {n = 1}}`))
		p.L.Push(p.Job("a").Fn)
		if err := p.L.PCall(0, 1, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := luavm.ToJSON(p.L.Get(-1)); got != `{"n":1}` {
			t.Errorf("a returned %s", got)
		}
	})

	tests := []struct {
		name    string
		src     string
		modules []string
		want    string
	}{
		{"OS", `require("os")`, nil,
			`.quire/ci.lua:1: module "os" not found: there is no file .quire/os.lua (only quire.ci and files under .quire/ can be required)`},
		{"Missing", "\nrequire('lib.nope')", nil,
			`.quire/ci.lua:2: module "lib.nope" not found: there is no file .quire/lib/nope.lua (only quire.ci and files under .quire/ can be required)`},
		{"ParentDir", `require("../x")`, nil, `.quire/ci.lua:1: cannot require "../x": ` + nameRule},
		{"DotDot", `require("a..b")`, nil, `.quire/ci.lua:1: cannot require "a..b": ` + nameRule},
		{"Slash", `require("lib/x")`, nil, `.quire/ci.lua:1: cannot require "lib/x": ` + nameRule},
		{"Empty", `require("")`, nil, `.quire/ci.lua:1: cannot require "": ` + nameRule},
		{"TrailingDot", `require("lib.")`, nil, `.quire/ci.lua:1: cannot require "lib.": ` + nameRule},
		{"OutsideQuire", `require("src.main")`, nil,
			`.quire/ci.lua:1: module "src.main" not found: there is no file .quire/src/main.lua (only quire.ci and files under .quire/ can be required)`},
		{"ModuleSyntaxError", `require("bad")`, []string{"bad.lua", "local x =\n= 2"},
			".quire/bad.lua:2: syntax error near '='"},
		{"ModuleRuntimeError", `require("bad")`, []string{"bad.lua", "local x = 1\nerror('boom')"},
			".quire/bad.lua:2: boom"},
		{"Loop", `require("a")`, []string{"a.lua", "require('b')", "b.lua", "\nrequire('a')"},
			".quire/b.lua:2: modules require each other in a loop: a -> b -> a"},
		{"Itself", "\n\nrequire('ci')", nil,
			".quire/ci.lua:3: modules require each other in a loop: ci -> ci"},
		{"RequireIsNotPackage", `local x = package.path`, nil,
			".quire/ci.lua:1: attempt to index a non-table object(nil) with key 'path'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, repo(tt.src, tt.modules...), Options{})
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// nameRule is the explanation of the error for a bad module name.
const nameRule = `a module name is words of letters, digits, '_' and '-' joined by dots, naming a file under .quire/ ("lib.go" is .quire/lib/go.lua)`

func TestLoader_RequireAfterFailure(t *testing.T) {
	// A module that failed can be required again: its failure does not
	// leave it marked as loading.
	p := mustLoad(t, repo(`
local ok1, err1 = pcall(require, "flaky")
local ok2, err2 = pcall(require, "flaky")
first, second = err1, err2
`, "flaky.lua", `error("nope")`))
	for _, name := range []string{"first", "second"} {
		if got, want := p.L.GetGlobal(name).String(), ".quire/flaky.lua:1: nope"; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
