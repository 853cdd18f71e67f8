package luavm

import (
	"fmt"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Strict makes reading a key that t does not hold raise an error that
// names the key, and the closest key t holds when one is near (see
// Closest), instead of giving nil: a typo such as ci.jobb(...) then reads
//
//	.quire/ci.lua:11: ci has no function "jobb" (did you mean "job"?)
//
// rather than "attempt to call a non-function object". name is what the
// user calls t ("ci", "q") and kind what its keys are ("function",
// "field"). The position is the Lua line that read the key, as for any
// error raised by a Go function.
//
// Keys t holds read as before; writes, rawget, rawset, next, pairs,
// ipairs and # do not consult the metatable and behave as before. The
// metatable is an ordinary one: a pipeline may replace it, to wrap an sh
// result in a class of its own (setmetatable(r, {__index = helpers})),
// which turns the check off for that table. Protecting it would guard
// nothing: the function behind it only raises an error.
func Strict(L *lua.LState, t *lua.LTable, name, kind string) {
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s", missingKey(L.CheckTable(1), L.Get(2), name, kind))
		return 0
	}))
	L.SetMetatable(t, mt)
}

// maxShownKey is how many bytes of a missing key a message quotes.
const maxShownKey = 40

// missingKey is the message for reading key from t, which lacks it.
func missingKey(t *lua.LTable, key lua.LValue, name, kind string) string {
	s, ok := key.(lua.LString)
	if !ok {
		return fmt.Sprintf("%s has no %s for the key %s", name, kind, Describe(key))
	}
	// Only names Closest would consider: a table the pipeline filled
	// with many keys, or long ones, costs one pass and no copies.
	var names []string
	t.ForEach(func(k, _ lua.LValue) {
		if ks, ok := k.(lua.LString); ok && near(len(ks), len(s)) {
			names = append(names, string(ks))
		}
	})
	slices.Sort(names) // ForEach's order varies; a suggestion must not
	shown := fmt.Sprintf("%q", string(s))
	if len(s) > maxShownKey {
		shown = fmt.Sprintf("%q... (%d bytes)", strings.ToValidUTF8(string(s[:maxShownKey]), "\ufffd"), len(s))
	}
	msg := fmt.Sprintf("%s has no %s %s", name, kind, shown)
	if best := Closest(string(s), names); best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	return msg
}

// maxDistance is how many edits apart a name and a suggestion may be.
const maxDistance = 2

// maxSuggested is the longest name Closest looks for a suggestion for:
// job ids are at most 100 bytes, and the comparison costs the product of
// the two lengths, which a pipeline could otherwise make huge.
const maxSuggested = 128

// near reports whether a name of n bytes may have a suggestion of m
// bytes: both short enough, and at most 2 apart.
func near(n, m int) bool {
	return n <= maxSuggested+maxDistance && m <= maxSuggested && abs(n-m) <= maxDistance
}

// Closest returns the candidate nearest to name, ignoring case, when it
// is at most 2 edits (insertions, deletions, substitutions) away and
// fewer edits than name has bytes; otherwise "". Among equally near
// candidates the earliest wins. A name over maxSuggested bytes gets
// none, and a candidate whose length differs from name's by more than 2
// is skipped without comparing, so huge names cost nothing.
func Closest(name string, candidates []string) string {
	best, bestDist := "", maxDistance+1
	lower := ""
	for _, c := range candidates {
		if !near(len(c), len(name)) {
			continue
		}
		if lower == "" {
			lower = strings.ToLower(name)
		}
		if d := editDistance(lower, strings.ToLower(c)); d < bestDist && d < len(name) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b in bytes.
func editDistance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			diag, row[j] = row[j], min(row[j]+1, row[j-1]+1, diag+cost)
		}
	}
	return row[len(b)]
}

// abs is the absolute value of n.
func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
