package luavm

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestLimits(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"Rep", `return string.rep("x", 65 * 1024 * 1024)`,
			"string.rep: the result would be 68157440 bytes, over the 64 MiB limit for one string"},
		{"RepMethod", `return ("ab"):rep(33 * 1024 * 1024)`,
			"string.rep: the result would be 69206016 bytes, over the 64 MiB limit for one string"},
		{"RepHuge", `return ("x"):rep(1e300)`,
			"string.rep: the result would be over the 64 MiB limit for one string"},
		{"Concat", `local big = ("x"):rep(1024 * 1024)
local t = {}
for i = 1, 65 do t[i] = big end
return table.concat(t)`,
			"table.concat: the result would be over the 64 MiB limit for one string"},
		{"ConcatSeparators", `return table.concat({"a", "b"}, ("x"):rep(64 * 1024 * 1024))`,
			"table.concat: the result would be over the 64 MiB limit for one string"},
		{"Format", `return string.format(("%999999d"):rep(70), 1)`,
			"string.format: the result would be 70006010 bytes, over the 64 MiB limit for one string"},
		{"FormatArgs", `local big = ("x"):rep(20 * 1024 * 1024)
return string.format("%s%s%s%s", big, big, big, big)`,
			"string.format: the result would be 335544576 bytes, over the 64 MiB limit for one string"},
		{"Gsub", `return (("x"):rep(70):gsub("x", ("y"):rep(1024 * 1024)))`,
			"string.gsub: the result would be over the 64 MiB limit for one string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eval(t, tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}

	t.Run("UnderTheLimit", func(t *testing.T) {
		for _, src := range []string{
			`return #string.rep("x", 1024 * 1024)`,
			`return #("x"):rep(1024 * 1024)`,
			`return #table.concat({("x"):rep(512 * 1024), ("y"):rep(512 * 1024)})`,
			`return #string.format("%s%s", ("x"):rep(512 * 1024), ("y"):rep(512 * 1024))`,
			`return #(("abcd"):rep(256 * 1024):gsub("d", "e"))`,
		} {
			got, err := eval(t, src)
			if err != nil || got != lua.LNumber(1<<20) {
				t.Errorf("%s = %v, %v; want 1048576", src, got, err)
			}
		}
	})
}

func TestStrGsub(t *testing.T) {
	// Results of Lua 5.1's string.gsub.
	tests := []struct {
		src, want string
		n         int
	}{
		{`("hello world"):gsub("o", "0")`, "hell0 w0rld", 2},
		{`("hello world"):gsub("(o)", "[%1]")`, "hell[o] w[o]rld", 2},
		{`("hello world"):gsub("o", "<%0>")`, "hell<o> w<o>rld", 2},
		{`("hello"):gsub("l", "%1")`, "hello", 2},
		{`("abc"):gsub("%w*", "x")`, "xx", 2},
		{`("abc"):gsub("", "-")`, "-a-b-c-", 4},
		{`("hello"):gsub("l", "L", 1)`, "heLlo", 1},
		{`("hello"):gsub("l", "L", 0)`, "hello", 0},
		{`("hah"):gsub("^h", "H")`, "Hah", 1},
		{`("ahh"):gsub("^h", "H")`, "ahh", 0},
		{`("$name is $age"):gsub("%$(%w+)", {name = "bob", age = 3})`, "bob is 3", 2},
		{`("$name $x"):gsub("%$(%w+)", {name = "bob"})`, "bob $x", 2},
		{`("a b"):gsub("%w", function(c) return c:upper() end)`, "A B", 2},
		{`("a b"):gsub("%w", function(c) return nil end)`, "a b", 2},
		{`("k=v, x=y"):gsub("(%w+)=(%w+)", "%2=%1")`, "v=k, y=x", 2},
		{`("k=v"):gsub("(%w+)=(%w+)", function(k, v) return v .. k end)`, "vk", 1},
		{`("abc"):gsub("()", "%1")`, "1a2b3c4", 4},
		{`("100%"):gsub("%%", "%%%%")`, "100%%", 1},
		{`("x"):gsub("x", 5)`, "5", 1},
		{`(""):gsub("x", "y")`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			L := New(t.Context())
			defer L.Close()
			if err := L.DoString("s, n = " + tt.src); err != nil {
				t.Fatal(err)
			}
			if got := L.GetGlobal("s").String(); got != tt.want {
				t.Errorf("result = %q, want %q", got, tt.want)
			}
			if got := L.GetGlobal("n"); got != lua.LNumber(tt.n) {
				t.Errorf("count = %v, want %d", got, tt.n)
			}
		})
	}

	for _, tt := range []struct{ src, want string }{
		{`("x"):gsub("x", "%2")`, "invalid capture index"},
		{`("x"):gsub("x", {x = true})`, "invalid replacement value (a boolean)"},
		{`("x"):gsub("x", function() return {} end)`, "invalid replacement value (a table)"},
		{`("x"):gsub("x", true)`, "string/function/table expected"},
		{`("x"):gsub("(", "y")`, "unfinished capture"},
	} {
		t.Run(tt.src, func(t *testing.T) {
			_, err := eval(t, "return "+tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestStrFormat(t *testing.T) {
	tests := []struct{ src, want string }{
		{`string.format("%d items, %s, %5.2f", 3, "x", 3.14159)`, "3 items, x,  3.14"},
		{`string.format("%5s|%-5s|", "a", "b")`, "    a|b    |"},
		{`string.format("100%%")`, "100%"},
		{`string.format("%s", nil)`, "nil"},
		{`string.format("%s %s", true, 1.5)`, "true 1.5"},
		{`string.format("%s", setmetatable({}, {__tostring = function() return "T" end}))`, "T"},
		{`string.format("%x", 255)`, "ff"},
		{`string.format("%s")`, "%!s(MISSING)"},
		{`string.format("%s", "a", "extra")`, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := eval(t, "return "+tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("= %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestTableConcat(t *testing.T) {
	tests := []struct{ src, want string }{
		{`table.concat({"a", "b", "c"})`, "abc"},
		{`table.concat({"a", "b", "c"}, ", ")`, "a, b, c"},
		{`table.concat({1, 2.5, "x"}, "-")`, "1-2.5-x"},
		{`table.concat({"a", "b", "c"}, "", 2)`, "bc"},
		{`table.concat({"a", "b", "c"}, "", 2, 2)`, "b"},
		{`table.concat({"a", "b", "c"}, "", 3, 1)`, ""},
		{`table.concat({})`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := eval(t, "return "+tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("= %q, want %q", got.String(), tt.want)
			}
		})
	}

	t.Run("BadValue", func(t *testing.T) {
		_, err := eval(t, `return table.concat({"a", {}, "c"})`)
		if want := "invalid value (at index 2) in table for 'concat'"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}
