package luavm

import (
	"encoding/json"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestToJSON(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"Nil", `return nil`, ``},
		{"Empty", `return {}`, `{}`},
		{"Object", `return {b = "x", a = 1, c = true, d = false}`, `{"a":1,"b":"x","c":true,"d":false}`},
		{"List", `return {"a", "b", 3}`, `["a","b",3]`},
		{"Nested", `return {a = {b = {c = {1, {d = "e"}}}}}`, `{"a":{"b":{"c":[1,{"d":"e"}]}}}`},
		{"Numbers", `return {1.5, -2, 1e21, 2^53, 0.1}`, `[1.5,-2,1e+21,9.007199254740992e+15,0.1]`},
		{"Escapes", `return {s = "q\"\\<>&\n\t\1\127é"}`, `{"s":"q\"\\<>&\n\t\u0001\u007fé"}`},
		{"SharedTable", `local t = {1} return {a = t, b = t}`, `{"a":[1],"b":[1]}`},
		{"ExplicitListKeys", `return {[2] = "b", [1] = "a"}`, `["a","b"]`},
		{"Depth100", `local t = {} for i = 1, 99 do t = {t} end return t`, strings.Repeat("[", 99) + "{}" + strings.Repeat("]", 99)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := eval(t, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToJSON(v)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			if got != tt.want {
				t.Errorf("ToJSON = %s, want %s", got, tt.want)
			}
			if got != "" && !json.Valid([]byte(got)) {
				t.Errorf("ToJSON = %s, which is not valid JSON", got)
			}
		})
	}

	t.Run("GoNil", func(t *testing.T) {
		if got, err := ToJSON(nil); got != "" || err != nil {
			t.Errorf("ToJSON(nil) = %q, %v; want \"\", nil", got, err)
		}
	})
}

func TestToJSON_Rejects(t *testing.T) {
	const kinds = "outputs must be strings, numbers, booleans or tables"
	tests := []struct {
		name, src, want string
	}{
		{"Function", `return {a = {b = print}}`, "output key 'a.b' is a function; " + kinds},
		{"FunctionInList", `return {list = {1, print}}`, "output key 'list[2]' is a function; " + kinds},
		{"TopLevelList", `return {print}`, "output key '[1]' is a function; " + kinds},
		{"NaN", `return {n = 0/0}`, "output key 'n' is NaN; JSON has no NaN or infinity"},
		{"Inf", `return {n = {-1/0}}`, "output key 'n[1]' is -Inf; JSON has no NaN or infinity"},
		{"Mixed", `return {a = {1, x = 2}}`, "output key 'a' mixes list items with named keys (such as 'x'); use one or the other"},
		{"Sparse", `return {[5] = "x"}`, "output has the key the number 5; an output table is a list with keys 1..n or has string keys"},
		{"BoolKey", `return {a = {[true] = 1}}`, "output key 'a' has the key the boolean true; an output table is a list with keys 1..n or has string keys"},
		{"FloatKey", `return {[1.5] = 1}`, "output has the key the number 1.5; an output table is a list with keys 1..n or has string keys"},
		{"Cycle", `local t = {a = {}} t.a.back = t return t`, "output key 'a.back' is a table that contains itself; outputs cannot have cycles"},
		{"TooDeep", `local t = {} for i = 1, 100 do t = {t} end return t`, "is nested more than 100 tables deep"},
		{"String", `return "done"`, `output is the string "done"; a job returns a table or nil`},
		{"Number", `return 3`, `output is the number 3; a job returns a table or nil`},
		{"TopFunction", `return print`, `output is a function; a job returns a table or nil`},
		{"NotUTF8", `return {s = "a\255b"}`, "output key 's' is not UTF-8 text; encode binary data first (for example as hex)"},
		{"NotUTF8Key", `return {["k\255"] = 1}`, "is not UTF-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := eval(t, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToJSON(v)
			if err == nil {
				t.Fatalf("ToJSON = %s, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want %q", err, tt.want)
			}
		})
	}

	t.Run("UserData", func(t *testing.T) {
		L := New(t.Context())
		defer L.Close()
		tbl := L.NewTable()
		tbl.RawSetString("u", L.NewUserData())
		_, err := ToJSON(tbl)
		if want := "output key 'u' is a userdata; " + kinds; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}

func TestFromJSON(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, s := range []string{
			`{"a":1,"b":"x","c":true,"d":[1,2,{"e":null}],"f":{"g":[]}}`,
			`["a",1.5,false,{"k":"v"}]`,
			`{"s":"q\"\\<>&\n\u0001é"}`,
			`{}`,
			`[]`,
		} {
			L := New(t.Context())
			v, err := FromJSON(L, s)
			if err != nil {
				t.Fatalf("FromJSON(%s): %v", s, err)
			}
			got, err := ToJSON(v)
			if err != nil {
				t.Fatalf("ToJSON(FromJSON(%s)): %v", s, err)
			}
			// null members vanish and empty arrays come back as {}:
			// Lua cannot tell them apart.
			want := strings.NewReplacer(`{"e":null}`, `{}`, `[]`, `{}`).Replace(s)
			if got != want {
				t.Errorf("round trip of %s = %s, want %s", s, got, want)
			}
			L.Close()
		}
	})

	t.Run("Values", func(t *testing.T) {
		L := New(t.Context())
		defer L.Close()
		v, err := FromJSON(L, `{"branch":"main","n":3,"ok":true,"none":null,"files":["a","b"]}`)
		if err != nil {
			t.Fatal(err)
		}
		L.SetGlobal("push", v)
		if err := L.DoString(`ok = push.branch == "main" and push.n == 3 and push.ok == true
			and push.none == nil and #push.files == 2 and push.files[2] == "b"`); err != nil {
			t.Fatal(err)
		}
		if got := L.GetGlobal("ok"); got != lua.LTrue {
			t.Errorf("the decoded table does not read back in Lua")
		}
	})

	t.Run("Empty", func(t *testing.T) {
		L := New(t.Context())
		defer L.Close()
		if v, err := FromJSON(L, ""); v != lua.LNil || err != nil {
			t.Errorf("FromJSON(\"\") = %v, %v; want nil, nil", v, err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		L := New(t.Context())
		defer L.Close()
		for _, s := range []string{`{`, `{"a":1} {"b":2}`, `nope`} {
			if _, err := FromJSON(L, s); err == nil {
				t.Errorf("FromJSON(%s) succeeded, want an error", s)
			}
		}
	})
}

func TestToLua(t *testing.T) {
	L := New(t.Context())
	defer L.Close()
	v := ToLua(L, map[string]any{
		"s":     "x",
		"b":     true,
		"i":     3,
		"i64":   int64(-4),
		"f":     2.5,
		"nil":   nil,
		"strs":  []string{"a", "b"},
		"mixed": []any{"a", 1, map[string]any{"k": "v"}},
		"env":   map[string]string{"K": "V"},
		"lua":   lua.LString("raw"),
	})
	got, err := ToJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b":true,"env":{"K":"V"},"f":2.5,"i":3,"i64":-4,"lua":"raw","mixed":["a",1,{"k":"v"}],"s":"x","strs":["a","b"]}`
	if got != want {
		t.Errorf("ToJSON(ToLua(...)) = %s, want %s", got, want)
	}
	if got := ToLua(L, nil); got != lua.LNil {
		t.Errorf("ToLua(nil) = %v, want nil", got)
	}
}
