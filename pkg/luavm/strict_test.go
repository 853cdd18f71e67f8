package luavm

import (
	"errors"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// strictState returns a sandboxed state whose global t is a strict table
// named "t" with the fields run and name.
func strictState(tb testing.TB) *lua.LState {
	tb.Helper()
	L := New(tb.Context())
	tb.Cleanup(L.Close)
	t := L.NewTable()
	t.RawSetString("run", L.NewFunction(func(L *lua.LState) int { return 0 }))
	t.RawSetString("name", lua.LString("x"))
	Strict(L, t, "t", "field")
	L.SetGlobal("t", t)
	return L
}

func TestStrict(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the error, "" for none
	}{
		{"Present", "t.run(); assert(t.name == 'x')", ""},
		{"Missing", "local v = t.rnu", `chunk.lua:1: t has no field "rnu" (did you mean "run"?)`},
		{"Far", "\n\nt.deploy()", `chunk.lua:3: t has no field "deploy"`},
		{"Method", "t:nme()", `chunk.lua:1: t has no field "nme" (did you mean "name"?)`},
		{"NumberKey", "local v = t[2]", `chunk.lua:1: t has no field for the key the number 2`},
		{"BoolKey", "local v = t[true]", `chunk.lua:1: t has no field for the key the boolean true`},
		{"Pairs", "local n = 0; for k in pairs(t) do n = n + 1 end; assert(n == 2)", ""},
		{"Ipairs", "for _ in ipairs(t) do error('no list') end; assert(#t == 0)", ""},
		{"Raw", "assert(rawget(t, 'nope') == nil); rawset(t, 'nope', 1); assert(t.nope == 1)", ""},
		{"Write", "t.mine = 2; assert(t.mine == 2); t.mine = nil", ""},
		{"Pcall", "local ok, err = pcall(function() return t.rum end); assert(not ok and err:find('did you mean \"run\"', 1, true))", ""},
		// A pipeline may wrap the table in a class of its own, which
		// turns the check off.
		{"SetMetatable", "setmetatable(t, {__index = {extra = 1}}); assert(t.extra == 1 and t.nope == nil)", ""},
		{"SetMetatableNil", "setmetatable(t, nil); assert(t.rnu == nil)", ""},
		{"IndexDirectly", "getmetatable(t).__index(t, 'rnu')", `t has no field "rnu" (did you mean "run"?)`},
		// The comparison would cost the product of the lengths: a long
		// name gets no suggestion, and costs no comparison.
		{"LongNearMiss", "local k = string.rep('a', 100000); rawset(t, k .. 'b', true); local v = t[k .. 'c']", `t has no field "aaaa`},
		{"Gsub", "assert(string.gsub('name', '%w+', t) == 'x')", ""},
		{"GsubMissing", "string.gsub('rn', '%w+', t)", `t has no field "rn" (did you mean "run"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			L := strictState(t)
			err := L.DoString(tt.src)
			got := ""
			var aerr *lua.ApiError
			if errors.As(err, &aerr) {
				got, _, _ = strings.Cut(aerr.Object.String(), "\nstack traceback:")
			} else if err != nil {
				t.Fatalf("got %v, want a Lua error", err)
			}
			got = strings.ReplaceAll(got, `<string>:`, "chunk.lua:")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("error %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	candidates := []string{"sh", "jobs", "log", "read_file", "write_file", "env", "secret", "workspace", "run_id", "job_id", strings.Repeat("j", 129) + "y"}
	tests := []struct{ name, want string }{
		{"shh", "sh"},
		{"SH", "sh"},
		{"job", "jobs"},
		{"readfile", "read_file"},
		{"writefile", "write_file"},
		{"secrets", "secret"},
		{"work_space", "workspace"},
		{"runid", "run_id"},
		{"x", ""},             // as many edits from "sh" as it has bytes
		{"go", ""},            // likewise from "log"
		{"lg", "log"},         // one insertion
		{"deploy", ""},        // too far from every name
		{"", ""},              // nothing to suggest for
		{"jobs_id", "job_id"}, // the nearer of jobs and job_id
		{strings.Repeat("s", 1<<20), ""},
		{strings.Repeat("j", 129) + "x", ""}, // over maxSuggested, next to a near candidate
	}
	for _, tt := range tests {
		if got := Closest(tt.name, candidates); got != tt.want {
			t.Errorf("Closest(%.20q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestTraceback_JobFunction: a function called from Go, as the runner
// calls a job's function, is named by where it is defined; gopher-lua
// calls every frame without a Lua caller "main chunk".
func TestTraceback_JobFunction(t *testing.T) {
	L := New(t.Context())
	defer L.Close()
	if err := L.DoString("function job(q)\n  local x = 1\n  error('boom')\nend\n"); err != nil {
		t.Fatal(err)
	}
	err := L.CallByParam(lua.P{Fn: L.GetGlobal("job"), Protect: true, Handler: Traceback(L)})
	var aerr *lua.ApiError
	if !errors.As(err, &aerr) {
		t.Fatalf("got %v, want a Lua error", err)
	}
	got := aerr.Object.String()
	want := "<string>:3: boom" + TracebackMarker + "\n\t[G]: in function 'error'\n\t<string>:3: in function <<string>:1>"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}

	// A strict table's check is a metamethod, which no call names.
	L = strictState(t)
	if err := L.DoString("function job(q)\n  q.rnu()\nend\n"); err != nil {
		t.Fatal(err)
	}
	err = L.CallByParam(lua.P{Fn: L.GetGlobal("job"), Protect: true, Handler: Traceback(L)}, L.GetGlobal("t"))
	if !errors.As(err, &aerr) {
		t.Fatalf("got %v, want a Lua error", err)
	}
	got = aerr.Object.String()
	want = `<string>:2: t has no field "rnu" (did you mean "run"?)` + TracebackMarker + "\n\t[G]: ?\n\t<string>:2: in function <<string>:1>"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// BenchmarkStrict compares reading a field of a strict table with reading
// it from a plain one, in the same run: a hit never reaches the metatable.
func BenchmarkStrict(b *testing.B) {
	for _, strict := range []bool{false, true} {
		name := "Plain"
		if strict {
			name = "Strict"
		}
		b.Run(name, func(b *testing.B) {
			L := New(b.Context())
			defer L.Close()
			t := L.NewTable()
			t.RawSetString("sh", lua.LString("x"))
			if strict {
				Strict(L, t, "q", "field")
			}
			L.SetGlobal("q", t)
			fn, err := L.LoadString("local q = q; local v; for i = 1, 1000 do v = q.sh end")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				L.Push(fn)
				L.Call(0, 0)
			}
		})
	}
}
