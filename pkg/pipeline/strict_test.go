package pipeline

import (
	"slices"
	"testing"
)

// TestLoad_UnknownCIFunction is the new-operator walkthrough's typo: a
// misspelt ci function names itself, and the closest one when near,
// instead of "attempt to call a non-function object".
func TestLoad_UnknownCIFunction(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"NearMiss", `ci.jobb("x", {"quire/push"}, f)`,
			`.quire/ci.lua:3: ci has no function "jobb" (did you mean "job"?)`},
		{"CaseOnly", `ci.Image("alpine")`,
			`.quire/ci.lua:3: ci has no function "Image" (did you mean "image"?)`},
		{"TwoEdits", `ci.mirorr("/tmp/x")`,
			`.quire/ci.lua:3: ci has no function "mirorr" (did you mean "mirror"?)`},
		{"FarName", `ci.deploy("prod")`,
			`.quire/ci.lua:3: ci has no function "deploy"`},
		{"ShortName", `ci.x()`,
			`.quire/ci.lua:3: ci has no function "x"`},
		{"MethodCall", `ci:jb("x", {"quire/push"}, f)`,
			`.quire/ci.lua:3: ci has no function "jb" (did you mean "job"?)`},
		{"ReadOnly", "\nlocal has = ci.step ~= nil",
			`.quire/ci.lua:4: ci has no function "step"`},
		{"NumberKey", `local v = ci[1]`,
			`.quire/ci.lua:3: ci has no function for the key the number 1`},
		{"LongKey", `local v = ci[string.rep("j", 5000)]`,
			`.quire/ci.lua:3: ci has no function "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj"... (5000 bytes)`},
		{"Quoted", `ci["jo\nb"]()`,
			`.quire/ci.lua:3: ci has no function "jo\nb" (did you mean "job"?)`},
		{"FieldTheFileAdded", "ci.helper = function() end\nci.helpr()",
			`.quire/ci.lua:4: ci has no function "helpr" (did you mean "helper"?)`},
		{"InModule", `require("lib")`,
			`.quire/lib.lua:2: ci has no function "jobs" (did you mean "job"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := repo(header+tt.src, "lib.lua", "local ci = require(\"quire.ci\")\nci.jobs()\n")
			got := problems(t, fsys, Options{})
			if want := []string{tt.want}; !slices.Equal(got, want) {
				t.Errorf("problems\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestLoad_CIStaysUsable checks that the strict ci table changes nothing
// for a valid pipeline: every documented function registers as before,
// and pairs, rawget and fields the file adds itself behave as in Lua.
// Its metatable is an ordinary one, which only raises on a miss.
func TestLoad_CIStaysUsable(t *testing.T) {
	p := mustLoad(t, repo(header+`
local names = {}
for k in pairs(ci) do names[#names + 1] = k end
table.sort(names)
assert(table.concat(names, ",") == "image,job,mirror", table.concat(names, ","))
assert(rawget(ci, "jobb") == nil)
assert(type(getmetatable(ci)) == "table")
local ok, err = pcall(function() return ci.jobb end)
assert(not ok and err:find('did you mean "job"', 1, true), tostring(err))
ci.helper = "mine"
assert(ci.helper == "mine")
assert(#ci == 0)
local again = require("quire.ci")
assert(again == ci)
ci.image("golang:1.26")
ci.job("test", {"quire/push"}, f)
ci.mirror("/srv/mirror.git", {after = {"test"}})
ci.job("after", {"quire/mirror"}, f)
`))
	if got, want := jobIDs(p.Jobs), []string{"test", MirrorJob, "after"}; !slices.Equal(got, want) {
		t.Errorf("jobs = %v, want %v", got, want)
	}
	if p.Image != "golang:1.26" {
		t.Errorf("image = %q, want golang:1.26", p.Image)
	}
}
