package pipeline

import (
	"slices"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/luavm"
	"github.com/quire-ci/quire-hook/pkg/mirror"
)

// MirrorJob is the id of the job ci.mirror registers. Its '/' keeps it
// apart from the ids users may register.
const MirrorJob = "quire/mirror"

// Mirror is what ci.mirror(url, opts) asked for (SPEC §9).
type Mirror struct {
	URL    string         // checked by mirror.CheckURL
	Secret string         // the secret whose value is the token; "" for none
	Refs   []string       // refs entries, each valid for mirror.RefSpec; nil: the pushed ref
	Tag    *lua.LFunction // tag(push) names the tag to create; nil: no tag
}

// mirrorOptions are the keys ci.mirror's options table may have.
var mirrorOptions = []string{"secret", "refs", "tag", "after"}

// ciMirror is ci.mirror(url, opts). It registers the job quire/mirror
// with the inputs {"quire/push", ...after}; mistakes are recorded as
// problems at the call's line.
func (ld *loader) ciMirror(L *lua.LState) int {
	if ld.closed {
		L.RaiseError("ci.mirror can only be called while the pipeline loads, not while a job runs")
	}
	file, line := callerPos(L)
	if ld.mirrorAt != nil {
		ld.problem(file, line, "ci.mirror is called a second time; it may be called only once, and the first call, at %s:%d, wins", ld.mirrorAt.File, ld.mirrorAt.Line)
		return 0
	}
	ld.mirrorAt = &luavm.Problem{File: file, Line: line}
	bad := func(format string, args ...any) {
		ld.problem(file, line, "ci.mirror: "+format, args...)
	}

	// The URL.
	m := &Mirror{}
	if n := L.GetTop(); n < 1 || n > 2 {
		bad("takes a URL and an optional table of options, ci.mirror(url, {secret = ..., refs = ..., tag = ..., after = ...}); it got %d arguments", n)
	}
	if s, ok := L.Get(1).(lua.LString); !ok {
		bad("the first argument must be the URL to push to, a string; got %s", luavm.Describe(L.Get(1)))
	} else if err := mirror.CheckURL(string(s)); err != nil {
		bad("%v", err)
	} else {
		m.URL = string(s)
	}

	// The options.
	inputs := []string{PushSource}
	inputsOK := true
	var opts *lua.LTable
	switch v := L.Get(2).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		opts = v
	default:
		bad("the options must be a table such as {secret = \"token\"}; got %s", luavm.Describe(v))
	}
	for _, key := range optionKeys(opts, bad) {
		v := opts.RawGetString(key)
		switch key {
		case "secret":
			s, ok := v.(lua.LString)
			switch {
			case !ok || s == "":
				bad("secret must name a secret of the operator's config, a non-empty string; got %s", luavm.Describe(v))
			case m.URL != "" && !mirror.IsHTTP(m.URL):
				bad("secret is only used to push over http(s); %s needs none", m.URL)
			default:
				m.Secret = string(s)
			}
		case "refs":
			list, ok := stringList(v)
			if !ok || len(list) == 0 {
				bad("refs must be a non-empty list of ref names such as {\"refs/heads/main\"}; got %s", luavm.Describe(v))
				break
			}
			for _, r := range list {
				if _, err := mirror.RefSpec(r); err != nil {
					bad("%v", err)
				}
			}
			m.Refs = list
		case "tag":
			fn, ok := v.(*lua.LFunction)
			if !ok {
				bad("tag must be a function of the push table that returns the tag name; got %s", luavm.Describe(v))
				break
			}
			m.Tag = fn
		case "after":
			list, ok := stringList(v)
			if !ok {
				bad("after must be a list of job ids such as {\"test\"}; got %s", luavm.Describe(v))
				inputsOK = false
				break
			}
			for _, id := range list {
				if !slices.Contains(inputs, id) {
					inputs = append(inputs, id)
				}
			}
		}
	}

	d := &decl{job: Job{ID: MirrorJob, Inputs: inputs, File: file, Line: line, Mirror: m}, named: true, inputsOK: inputsOK}
	ld.first[MirrorJob] = d
	ld.decls = append(ld.decls, d)
	return 0
}

// optionKeys returns the option names opts holds, sorted, and reports
// keys that are not options.
func optionKeys(opts *lua.LTable, bad func(string, ...any)) []string {
	if opts == nil {
		return nil
	}
	var names, keys []string
	others := 0
	opts.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			names = append(names, string(s))
		} else {
			others++
		}
	})
	if others > 0 {
		bad("the options table has %d keys that are not names; options are named: secret, refs, tag, after", others)
	}
	slices.Sort(names)
	for _, name := range names {
		if slices.Contains(mirrorOptions, name) {
			keys = append(keys, name)
		} else {
			bad("unknown option %q (known: secret, refs, tag, after)", name)
		}
	}
	return keys
}

// stringList returns v as a list of strings, if it is one.
func stringList(v lua.LValue) ([]string, bool) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, false
	}
	n := 0
	t.ForEach(func(lua.LValue, lua.LValue) { n++ })
	if t.Len() != n {
		return nil, false
	}
	list := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		s, ok := t.RawGetInt(i).(lua.LString)
		if !ok {
			return nil, false
		}
		list = append(list, string(s))
	}
	return list, true
}
