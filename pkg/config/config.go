// Package config reads the operator's config.lua (SPEC §9): a Lua file,
// evaluated in the same sandbox as pipelines (package luavm), that
// returns a table of settings and secrets. Absent is fine; every setting
// has a default.
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luaparse "github.com/yuin/gopher-lua/parse"

	"github.com/quire-ci/quire-hook/pkg/luavm"
	"github.com/quire-ci/quire-hook/pkg/redact"
)

// Executors a config may name.
const (
	ExecutorHost   = "host"
	ExecutorBwrap  = "bwrap"
	ExecutorDocker = "docker"
)

// Secret is one declared secret: a plain value, or a file read when the
// secret is first used.
type Secret struct {
	Name  string
	Value string // a plain value; "" when File is set
	File  string // absolute path, or ""
}

// Config is the operator's configuration.
type Config struct {
	Path          string // the file it came from; "" for the defaults
	Secrets       map[string]Secret
	Executor      string
	Network       bool
	JobTimeout    time.Duration // 0: none
	RunTimeout    time.Duration // 0: none
	KeepWorkspace bool
	KeepRuns      int // 0: keep all
	// MaxParallelRuns is how many runs of the data root may run at
	// once (runs of one repo and ref never overlap); at least 1.
	MaxParallelRuns int
	// Env is added to the environment of every sh call, after the CI
	// variables; a call's own opts.env still wins.
	Env map[string]string
	// Binds are host paths bwrap mounts into the sandbox at the same
	// path, read-only unless RW.
	Binds []Bind
	// MaxLogBytes bounds the log file of one sh call; the output past
	// it is dropped.
	MaxLogBytes int64
	// Docker is the docker executor's engine and pull policy.
	Docker Docker
	// Notify are the targets told of runs' results (SPEC §13).
	Notify []Notify
	// Sendmail is the argv mail goes through; nil: DefaultSendmail.
	Sendmail []string
	// Notes says whether and where run results become git notes.
	Notes Notes
	// Repos override the settings above for one repository, keyed by
	// its name in runs.repo; see ForRepo.
	Repos map[string]Repo
	// Warnings are things the operator should know but that do not stop
	// a run, such as unknown keys.
	Warnings []string
}

// Default returns the configuration used when there is no config.lua.
func Default() Config {
	return Config{Secrets: map[string]Secret{}, Executor: ExecutorHost, JobTimeout: time.Hour, MaxParallelRuns: 1,
		MaxLogBytes: DefaultMaxLogBytes}
}

// DefaultMaxLogBytes is max_log_bytes when config.lua does not set it.
const DefaultMaxLogBytes = 1 << 30

// loadTimeout bounds evaluating the file, as for pipelines.
var loadTimeout = luavm.DefaultTimeout

// Load reads the config at path. A missing file gives Default() unless
// required (the operator named the file explicitly).
func Load(ctx context.Context, path string, required bool) (Config, error) {
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return Default(), nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", path, err)
	}
	L, v, err := luavm.Eval(ctx, path, src, loadTimeout)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	defer L.Close()
	if v == lua.LNil && !onlyComments(src) {
		// A config that sets things but forgot to return them would
		// run every repository with the defaults: the host executor
		// instead of the sandbox it asked for.
		return Config{}, fmt.Errorf("config %s: returns nothing, so none of its settings would apply; return them as a table: return { executor = \"bwrap\", ... }", path)
	}
	c, err := parse(path, v)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// onlyComments reports whether src, a chunk that compiled, holds no
// statement: it is empty, or has only blanks and comments.
func onlyComments(src []byte) bool {
	chunk, err := luaparse.Parse(bytes.NewReader(src), "config.lua")
	return err == nil && len(chunk) == 0
}

// parse turns the table a config returns into a Config.
func parse(path string, v lua.LValue) (Config, error) {
	c := Default()
	c.Path = path
	t, ok := v.(*lua.LTable)
	if v == lua.LNil {
		return c, nil // nothing but comments (Load): all defaults
	}
	if !ok {
		return c, fmt.Errorf("must return a table (return { executor = \"host\", ... }), not a %s", v.Type())
	}
	var errs []string
	keys := tableKeys(t)
	for _, k := range keys {
		val := t.RawGetString(k)
		var err error
		switch k {
		case "secrets":
			c.Secrets, err = parseSecrets(val)
		case "executor":
			c.Executor, err = executor(k, val)
		case "network":
			c.Network, err = boolean(k, val)
		case "job_timeout":
			c.JobTimeout, err = seconds(k, val)
		case "run_timeout":
			c.RunTimeout, err = seconds(k, val)
		case "keep_workspace":
			c.KeepWorkspace, err = boolean(k, val)
		case "keep_runs":
			c.KeepRuns, err = count(k, val)
		case "max_parallel_runs":
			c.MaxParallelRuns, err = count(k, val)
			if err != nil || c.MaxParallelRuns < 1 {
				err = fmt.Errorf("max_parallel_runs must be a whole number >= 1 (1: one run at a time), not %s", val.String())
			}
		case "env":
			c.Env, err = parseEnv(k, val)
		case "binds":
			c.Binds, err = parseBinds(k, val)
		case "max_log_bytes":
			c.MaxLogBytes, err = logBytes(k, val)
		case "docker_pull", "docker_host":
			err = c.parseDocker(k, val)
		case "notify":
			c.Notify, err = parseNotify(path, val, t.RawGetString("secrets"))
		case "sendmail":
			c.Sendmail, err = parseSendmail(k, val)
		case "notes", "notes_ref":
			err = c.parseNotes(k, val)
		case "repos":
			var warns []string
			c.Repos, warns, err = parseRepos(path, val)
			c.Warnings = append(c.Warnings, warns...)
		default:
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: unknown key %q ignored (known: %s)", path, k, strings.Join(topKeys, ", ")))
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if n := nonStringKeys(t); n > 0 {
		errs = append(errs, fmt.Sprintf("%d keys are not names; the table must map names to values", n))
	}
	if len(errs) > 0 {
		return c, errors.New(strings.Join(errs, "; "))
	}
	return c, nil
}

// topKeys are the keys config.lua's table may have.
var topKeys = []string{"secrets", "executor", "network", "job_timeout", "run_timeout", "keep_workspace", "keep_runs",
	"max_parallel_runs", "env", "binds", "max_log_bytes", "docker_pull", "docker_host", "repos",
	"notify", "sendmail", "notes", "notes_ref"}

func parseSecrets(v lua.LValue) (map[string]Secret, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("secrets must be a table of name = \"value\" or name = { file = \"/path\" }, not a %s", v.Type())
	}
	out := make(map[string]Secret)
	var errs []string
	for _, name := range tableKeys(t) {
		if !validName(name) {
			errs = append(errs, fmt.Sprintf("secret name %q must use only letters, digits, _ . and -", name))
			continue
		}
		switch s := t.RawGetString(name).(type) {
		case lua.LString:
			if len(s) < redact.MinLen {
				errs = append(errs, fmt.Sprintf("secret %q is shorter than %d bytes and could not be redacted safely; use a longer value", name, redact.MinLen))
				continue
			}
			out[name] = Secret{Name: name, Value: string(s)}
		case *lua.LTable:
			file, ok := s.RawGetString("file").(lua.LString)
			if !ok || file == "" {
				errs = append(errs, fmt.Sprintf("secret %q: a table secret needs file = \"/absolute/path\"", name))
				continue
			}
			if !strings.HasPrefix(string(file), "/") {
				errs = append(errs, fmt.Sprintf("secret %q: file %q must be an absolute path", name, string(file)))
				continue
			}
			for _, k := range tableKeys(s) {
				if k != "file" {
					errs = append(errs, fmt.Sprintf("secret %q: unknown key %q (only file)", name, k))
				}
			}
			out[name] = Secret{Name: name, File: string(file)}
		default:
			errs = append(errs, fmt.Sprintf("secret %q must be a string or { file = \"/path\" }, not a %s", name, s.Type()))
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func executor(key string, v lua.LValue) (string, error) {
	s, err := str(key, v)
	if err == nil && s != ExecutorHost && s != ExecutorBwrap && s != ExecutorDocker {
		err = fmt.Errorf("%s %q is not one of host, bwrap, docker", key, s)
	}
	return s, err
}

func str(key string, v lua.LValue) (string, error) {
	s, ok := v.(lua.LString)
	if !ok {
		return "", fmt.Errorf("%s must be a string, not a %s", key, v.Type())
	}
	return string(s), nil
}

func boolean(key string, v lua.LValue) (bool, error) {
	b, ok := v.(lua.LBool)
	if !ok {
		return false, fmt.Errorf("%s must be true or false, not a %s", key, v.Type())
	}
	return bool(b), nil
}

// seconds reads a non-negative number of seconds.
func seconds(key string, v lua.LValue) (time.Duration, error) {
	n, ok := v.(lua.LNumber)
	if !ok || n < 0 || math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) || float64(n) > 1e9 {
		return 0, fmt.Errorf("%s must be a number >= 0, not %s", key, v.String())
	}
	return time.Duration(float64(n) * float64(time.Second)), nil
}

// count reads a whole number >= 0.
func count(key string, v lua.LValue) (int, error) {
	n, ok := v.(lua.LNumber)
	if !ok || n < 0 || float64(n) != math.Trunc(float64(n)) || float64(n) > 1e9 {
		return 0, fmt.Errorf("%s must be a whole number >= 0, not %s", key, v.String())
	}
	return int(n), nil
}

// tableKeys returns the string keys of t, sorted.
func tableKeys(t *lua.LTable) []string {
	var keys []string
	t.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			keys = append(keys, string(s))
		}
	})
	sort.Strings(keys)
	return keys
}

func nonStringKeys(t *lua.LTable) int {
	n := 0
	t.ForEach(func(k, _ lua.LValue) {
		if _, ok := k.(lua.LString); !ok {
			n++
		}
	})
	return n
}
