package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Bind is a host path that the bwrap executor mounts into the sandbox
// at the same path.
type Bind struct {
	Path string // absolute and clean
	RW   bool   // read-write; read-only when false
}

// Repo holds the settings config.lua's repos table gives one
// repository; a zero field leaves the top level's setting alone.
type Repo struct {
	Executor    string            // "": the top level's
	Network     *bool             // nil: the top level's
	Env         map[string]string // merged over the top level's, name by name
	Binds       []Bind            // added to the top level's; a path given again takes this mode
	MaxLogBytes int64             // 0: the top level's
}

// repoKeys are the keys an entry of repos may have.
var repoKeys = []string{"executor", "network", "env", "binds", "max_log_bytes"}

// maxLogBytesLimit keeps max_log_bytes a whole number a float64 holds
// exactly; it is far beyond any disk.
const maxLogBytesLimit = 1 << 50

// ForRepo returns the settings that apply to the repository named name
// (runs.repo): the top level, overridden by repos[name] if there is one.
func (c Config) ForRepo(name string) Config {
	r, ok := c.Repos[name]
	if !ok {
		return c
	}
	out := c
	if r.Executor != "" {
		out.Executor = r.Executor
	}
	if r.Network != nil {
		out.Network = *r.Network
	}
	if len(r.Env) > 0 {
		out.Env = maps.Clone(c.Env)
		if out.Env == nil {
			out.Env = map[string]string{}
		}
		maps.Copy(out.Env, r.Env)
	}
	if len(r.Binds) > 0 {
		out.Binds = nil
		for _, b := range c.Binds {
			if !slices.ContainsFunc(r.Binds, func(rb Bind) bool { return rb.Path == b.Path }) {
				out.Binds = append(out.Binds, b)
			}
		}
		out.Binds = append(out.Binds, r.Binds...)
	}
	if r.MaxLogBytes > 0 {
		out.MaxLogBytes = r.MaxLogBytes
	}
	return out
}

// EnvList returns Env as NAME=value strings, sorted by name.
func (c Config) EnvList() []string {
	out := make([]string, 0, len(c.Env))
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		out = append(out, k+"="+c.Env[k])
	}
	return out
}

// UnknownRepos warns about repos entries that name no repository under
// reposRoot (an absolute name: no directory at that path). Without a
// repos root a name cannot be checked, and none is warned about.
func (c Config) UnknownRepos(reposRoot string) []string {
	var warns []string
	for _, name := range slices.Sorted(maps.Keys(c.Repos)) {
		p := name
		if !filepath.IsAbs(name) {
			if reposRoot == "" {
				continue
			}
			p = filepath.Join(reposRoot, name)
		}
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			warns = append(warns, fmt.Sprintf("%s: repos entry %q names no repository (no directory %s); use the name runs.repo records, as `quire-hook runs` lists it", c.Path, name, p))
		}
	}
	return warns
}

// parseRepos reads the repos table: repository name → settings.
// Unknown keys of an entry are warnings, like unknown keys at the top.
func parseRepos(path string, v lua.LValue) (map[string]Repo, []string, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, nil, fmt.Errorf(`repos must be a table of ["name.git"] = { ... }, not a %s`, v.Type())
	}
	if n := nonStringKeys(t); n > 0 {
		return nil, nil, fmt.Errorf(`repos must map repository names to tables, as in ["team1/tools.git"] = { executor = "bwrap" }; %d keys are not names`, n)
	}
	out := make(map[string]Repo)
	var errs, warns []string
	for _, name := range tableKeys(t) {
		r, w, err := parseRepo(path, name, t.RawGetString(name))
		warns = append(warns, w...)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out[name] = r
	}
	if len(errs) > 0 {
		return nil, warns, errors.New(strings.Join(errs, "; "))
	}
	return out, warns, nil
}

func parseRepo(path, name string, v lua.LValue) (Repo, []string, error) {
	var r Repo
	prefix := fmt.Sprintf("repos[%q]", name)
	if strings.TrimSpace(name) == "" {
		return r, nil, fmt.Errorf("repos has an empty name; key each entry by the repository's name in runs.repo")
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return r, nil, fmt.Errorf("%s must be a table such as { executor = \"bwrap\" }, not a %s", prefix, v.Type())
	}
	var errs, warns []string
	for _, k := range tableKeys(t) {
		val := t.RawGetString(k)
		key := prefix + "." + k
		var err error
		switch k {
		case "executor":
			r.Executor, err = executor(key, val)
		case "network":
			var b bool
			b, err = boolean(key, val)
			r.Network = &b
		case "env":
			r.Env, err = parseEnv(key, val)
		case "binds":
			r.Binds, err = parseBinds(key, val)
		case "max_log_bytes":
			r.MaxLogBytes, err = logBytes(key, val)
		default:
			warns = append(warns, fmt.Sprintf("%s: %s: unknown key %q ignored (known: %s)", path, prefix, k, strings.Join(repoKeys, ", ")))
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if n := nonStringKeys(t); n > 0 {
		errs = append(errs, fmt.Sprintf("%s: %d keys are not names; the table must map names to values", prefix, n))
	}
	if len(errs) > 0 {
		return r, warns, errors.New(strings.Join(errs, "; "))
	}
	return r, warns, nil
}

// parseEnv reads a table of variable names to string (or number) values.
func parseEnv(key string, v lua.LValue) (map[string]string, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf(`%s must be a table of NAME = "value", not a %s`, key, v.Type())
	}
	if nonStringKeys(t) > 0 {
		return nil, fmt.Errorf(`%s maps names to values, as in { GOCACHE = "/var/cache/quire/go" }, not a list`, key)
	}
	out := make(map[string]string)
	var errs []string
	for _, name := range tableKeys(t) {
		val := t.RawGetString(name)
		switch {
		case !envName(name):
			errs = append(errs, fmt.Sprintf("%s: %q is not a variable name; use letters, digits and _, not starting with a digit", key, name))
		case strings.HasPrefix(name, "QUIRE_"):
			errs = append(errs, fmt.Sprintf("%s: %s is set by quire-hook for every sh call; use a name without the QUIRE_ prefix", key, name))
		case val.Type() != lua.LTString && val.Type() != lua.LTNumber:
			errs = append(errs, fmt.Sprintf("%s.%s must be a string, not a %s", key, name, val.Type()))
		case strings.ContainsRune(val.String(), 0):
			errs = append(errs, fmt.Sprintf("%s.%s holds a NUL byte, which no environment variable can; remove it", key, name))
		default:
			out[name] = val.String()
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return out, nil
}

func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// parseBinds reads a list whose entries are "/path" or { "/path", rw = true }.
func parseBinds(key string, v lua.LValue) ([]Bind, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf(`%s must be a list such as { "/opt/toolchains", { "/var/cache/quire/go", rw = true } }, not a %s`, key, v.Type())
	}
	n := t.Len()
	if len(tableKeys(t)) > 0 || countKeys(t) != n {
		return nil, fmt.Errorf(`%s must be a list such as { "/opt/toolchains", { "/var/cache/quire/go", rw = true } }, not a table with names`, key)
	}
	var out []Bind
	var errs []string
	for i := 1; i <= n; i++ {
		b, err := parseBind(fmt.Sprintf("%s[%d]", key, i), t.RawGetInt(i))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, b)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return out, nil
}

func parseBind(key string, v lua.LValue) (Bind, error) {
	var b Bind
	var p lua.LValue = v
	if t, ok := v.(*lua.LTable); ok {
		p = t.RawGetInt(1)
		for _, k := range tableKeys(t) {
			if k != "rw" {
				return b, fmt.Errorf(`%s: unknown key %q (a bind is { "/path", rw = true })`, key, k)
			}
		}
		if countKeys(t) != len(tableKeys(t))+1 {
			return b, fmt.Errorf(`%s must hold one path, as in { "/var/cache/quire/go", rw = true }`, key)
		}
		if rw := t.RawGetString("rw"); rw != lua.LNil {
			rwb, ok := rw.(lua.LBool)
			if !ok {
				return b, fmt.Errorf("%s: rw must be true or false, not a %s", key, rw.Type())
			}
			b.RW = bool(rwb)
		}
	}
	s, ok := p.(lua.LString)
	if !ok {
		return b, fmt.Errorf(`%s must be a path or { "/path", rw = true }, not a %s`, key, p.Type())
	}
	if !filepath.IsAbs(string(s)) {
		return b, fmt.Errorf("%s: %q must be an absolute path", key, string(s))
	}
	b.Path = filepath.Clean(string(s))
	return b, nil
}

// logBytes reads max_log_bytes: a whole number of bytes > 0.
func logBytes(key string, v lua.LValue) (int64, error) {
	n, ok := v.(lua.LNumber)
	if !ok || n < 1 || float64(n) != math.Trunc(float64(n)) || float64(n) > maxLogBytesLimit {
		return 0, fmt.Errorf("%s must be a whole number of bytes > 0 (default %d, 1 GiB), not %s", key, DefaultMaxLogBytes, v.String())
	}
	return int64(n), nil
}

// countKeys counts every key of t.
func countKeys(t *lua.LTable) int {
	n := 0
	t.ForEach(func(lua.LValue, lua.LValue) { n++ })
	return n
}
