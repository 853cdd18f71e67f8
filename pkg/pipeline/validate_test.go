package pipeline

import (
	"slices"
	"strings"
	"testing"
)

// header is the first two lines of every pipeline in TestLoad_Problems,
// so the lines of the cases start at 3.
const header = "local ci = require(\"quire.ci\")\nlocal f = function() end\n"

func TestLoad_Problems(t *testing.T) {
	long := strings.Repeat("a", 101)
	tests := []struct {
		name string
		src  string
		want []string
	}{
		// Rule 1: job ids.
		{"EmptyID", `ci.job("", {"quire/push"}, f)`,
			[]string{`.quire/ci.lua:3: Job id is empty; give the job a name such as "test"`}},
		{"LongID", `ci.job("` + long + `", {"quire/push"}, f)`,
			[]string{".quire/ci.lua:3: Job id '" + long[:40] + "...' is 101 bytes; ids are at most 100 bytes"}},
		{"SlashID", `ci.job("deploy/prod", {"quire/push"}, f)`,
			[]string{".quire/ci.lua:3: Job id 'deploy/prod' contains '/', which is reserved for sources such as quire/push; use '-' or '.' instead"}},
		{"DotID", `ci.job(".hidden", {"quire/push"}, f)`,
			[]string{".quire/ci.lua:3: Job id '.hidden' starts with '.'; an id starts with a letter, a digit, '_' or '-'"}},
		{"BadCharID", `ci.job("go test", {"quire/push"}, f)`,
			[]string{".quire/ci.lua:3: Job id 'go test' contains ' '; ids use only letters, digits, '.', '_' and '-'"}},
		{"NewlineID", `ci.job("a\nb", {"quire/push"}, f)`,
			[]string{`.quire/ci.lua:3: Job id "a\nb" contains '\n'; ids use only letters, digits, '.', '_' and '-'`}},
		{"NumberID", `ci.job(42, {"quire/push"}, f)`,
			[]string{`.quire/ci.lua:3: ci.job needs the job id as its first argument, a string such as "test"; got the number 42`}},

		// Rule 2: an id registered twice.
		{"Duplicate", "ci.job(\"a\", {\"quire/push\"}, f)\n\nci.job(\"a\", {\"quire/push\"}, f)",
			[]string{".quire/ci.lua:5: Job 'a' is registered twice; the first registration, at .quire/ci.lua:3, wins"}},

		// Rule 3: inputs.
		{"EmptyInputs", "\n\n\n\nci.job(\"x\", {}, f)",
			[]string{`.quire/ci.lua:7: Job 'x' has empty inputs. Pass {"quire/push"} (or another input) so it has something to fire it.`}},
		{"StringInputs", `ci.job("x", "quire/push", f)`,
			[]string{`.quire/ci.lua:3: Job 'x' needs a list of inputs as its second argument, such as {"quire/push"}; got the string "quire/push"`}},
		{"NilInputs", `ci.job("x", nil, f)`,
			[]string{`.quire/ci.lua:3: Job 'x' needs a list of inputs as its second argument, such as {"quire/push"}; got nil`}},
		{"NonStringInput", `ci.job("x", {"quire/push", 7}, f)`,
			[]string{`.quire/ci.lua:3: Job 'x' has input #2 the number 7; inputs are strings naming a job or a source such as "quire/push"`}},
		{"NamedInputs", `ci.job("x", {push = "quire/push"}, f)`,
			[]string{`.quire/ci.lua:3: Job 'x' has inputs with the key the string "push"; inputs are a list of strings such as {"quire/push", "build"}`}},
		{"HoleInInputs", `ci.job("x", {[1] = "quire/push", [3] = "a"}, f)`,
			[]string{`.quire/ci.lua:3: Job 'x' has inputs with the key the number 3; inputs are a list of strings such as {"quire/push", "build"}`}},

		// Rule 4: unknown inputs.
		{"UnknownSource", `ci.job("x", {"quire/posh"}, f)`,
			[]string{".quire/ci.lua:3: Job 'x' has the unknown input 'quire/posh' (did you mean 'quire/push'?); an input is a job registered with ci.job or a source such as quire/push"}},
		{"UnknownJob", "ci.job(\"build\", {\"quire/push\"}, f)\nci.job(\"deploy\", {\"buld\"}, f)",
			[]string{".quire/ci.lua:4: Job 'deploy' has the unknown input 'buld' (did you mean 'build'?); an input is a job registered with ci.job or a source such as quire/push"}},
		{"UnknownFarInput", `ci.job("x", {"somewhere-else"}, f)`,
			[]string{".quire/ci.lua:3: Job 'x' has the unknown input 'somewhere-else'; an input is a job registered with ci.job or a source such as quire/push"}},

		// Rules 5 and 6: cycles, and jobs only a cycle leads to.
		{"Cycle", "ci.job(\"a\", {\"c\"}, f)\nci.job(\"b\", {\"a\"}, f)\nci.job(\"c\", {\"b\"}, f)",
			[]string{".quire/ci.lua:3: Jobs a -> b -> c -> a form a cycle; a job cannot depend on itself, even through other jobs"}},
		{"CycleWithSource", "ci.job(\"a\", {\"quire/push\", \"b\"}, f)\nci.job(\"b\", {\"a\"}, f)",
			[]string{".quire/ci.lua:3: Jobs a -> b -> a form a cycle; a job cannot depend on itself, even through other jobs"}},
		{"SelfInput", `ci.job("a", {"quire/push", "a"}, f)`,
			[]string{".quire/ci.lua:3: Job 'a' lists itself as an input; a job cannot fire itself"}},
		{"BehindCycle", "ci.job(\"a\", {\"b\"}, f)\nci.job(\"b\", {\"a\"}, f)\nci.job(\"d\", {\"b\"}, f)\nci.job(\"e\", {\"d\"}, f)",
			[]string{
				".quire/ci.lua:3: Jobs a -> b -> a form a cycle; a job cannot depend on itself, even through other jobs",
				".quire/ci.lua:5: Job 'd' can never run: its inputs lead only to the cycle through 'b', never to a source such as quire/push",
				".quire/ci.lua:6: Job 'e' can never run: its inputs lead only to the cycle through 'b', never to a source such as quire/push",
			}},
		{"Knot", "ci.job(\"a\", {\"b\", \"c\"}, f)\nci.job(\"b\", {\"a\"}, f)\nci.job(\"c\", {\"b\"}, f)",
			[]string{".quire/ci.lua:3: Jobs a -> b -> a form a cycle; a job cannot depend on itself, even through other jobs (c are in the same knot of inputs)"}},

		// Rule 7: fn and ci.image.
		{"NoFunction", `ci.job("x", {"quire/push"}, "echo hi")`,
			[]string{`.quire/ci.lua:3: Job 'x' needs a function as its third argument; got the string "echo hi"`}},
		{"ImageTwice", "ci.image(\"golang:1.26\")\nci.image(\"alpine\")",
			[]string{".quire/ci.lua:4: ci.image is called a second time; it may be called only once, and the first call, at .quire/ci.lua:3, wins"}},
		{"ImageEmpty", `ci.image("")`,
			[]string{`.quire/ci.lua:3: ci.image takes one argument, a non-empty image name such as "golang:1.26"; got the string ""`}},
		{"ImageNumber", `ci.image(1, 2)`,
			[]string{`.quire/ci.lua:3: ci.image takes one argument, a non-empty image name such as "golang:1.26"; got the number 1, the number 2`}},

		// Argument counts and method calls.
		{"TwoArgs", `ci.job("x", f)`,
			[]string{".quire/ci.lua:3: Job 'x': ci.job takes 3 arguments (id, inputs, fn); it got 2"}},
		{"FourArgs", `ci.job("x", {"quire/push"}, f, f)`,
			[]string{".quire/ci.lua:3: Job 'x': ci.job takes 3 arguments (id, inputs, fn); it got 4"}},
		{"NoArgs", `ci.job()`,
			[]string{`.quire/ci.lua:3: ci.job needs the job id as its first argument, a string such as "test"; got nil`}},
		{"Method", `ci:job("x", {"quire/push"}, f)`,
			[]string{".quire/ci.lua:3: ci.job is a function, not a method: call ci.job(id, inputs, fn), not ci:job(...)"}},
		{"BadJobNotReportedAgain", "ci.job(\"x\", f)\nci.job(\"y\", {\"x\"}, f)",
			[]string{".quire/ci.lua:3: Job 'x': ci.job takes 3 arguments (id, inputs, fn); it got 2"}},

		// Every problem at once, in line order.
		{"Several", strings.Join([]string{
			`ci.job("a/b", {"quire/push"}, f)`,
			`ci.job("test", {}, f)`,
			`ci.job("build", {"tset"}, 3)`,
			`ci.job("test", {"quire/push"}, f)`,
			`ci.image("x")`,
			`ci.image("y")`,
		}, "\n"), []string{
			".quire/ci.lua:3: Job id 'a/b' contains '/', which is reserved for sources such as quire/push; use '-' or '.' instead",
			`.quire/ci.lua:4: Job 'test' has empty inputs. Pass {"quire/push"} (or another input) so it has something to fire it.`,
			".quire/ci.lua:5: Job 'build' needs a function as its third argument; got the number 3",
			".quire/ci.lua:5: Job 'build' has the unknown input 'tset' (did you mean 'test'?); an input is a job registered with ci.job or a source such as quire/push",
			".quire/ci.lua:6: Job 'test' is registered twice; the first registration, at .quire/ci.lua:4, wins",
			".quire/ci.lua:8: ci.image is called a second time; it may be called only once, and the first call, at .quire/ci.lua:7, wins",
		}},

		// Lua errors.
		{"SyntaxError", "local x = \n\n  = 3",
			[]string{".quire/ci.lua:5: syntax error near '='"}},
		{"SyntaxErrorAtEnd", "ci.job(\"a\", {\"quire/push\"}, function()\n",
			[]string{".quire/ci.lua:3: syntax error at the end of the file"}},
		{"RuntimeError", "local t = nil\n\nt.x = 1",
			[]string{".quire/ci.lua:5: attempt to index a non-table object(nil) with key 'x'"}},
		{"ErrorCall", `error("no pipeline today")`,
			[]string{".quire/ci.lua:3: no pipeline today"}},
		{"ErrorTable", `error({})`,
			[]string{".quire/ci.lua: error raised with a table value instead of a message"}},
		{"ProblemsBeforeRuntimeError", "ci.job(\"x\", {}, f)\nlocal n = nil + 1",
			[]string{
				`.quire/ci.lua:3: Job 'x' has empty inputs. Pass {"quire/push"} (or another input) so it has something to fire it.`,
				".quire/ci.lua:4: cannot perform add operation between nil and number",
			}},
		{"StackOverflow", "local function g() return 1 + g() end\ng()",
			[]string{".quire/ci.lua:3: stack overflow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, repo(header+tt.src), Options{})
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoad_IDLimits(t *testing.T) {
	for _, id := range []string{strings.Repeat("x", 100), "a", "A-b_c.1", "_x", "-x", "1"} {
		t.Run(id[:1], func(t *testing.T) {
			p := mustLoad(t, repo(header+`ci.job("`+id+`", {"quire/push"}, f)`))
			if p.Job(id) == nil {
				t.Errorf("job %q not registered", id)
			}
		})
	}
}
