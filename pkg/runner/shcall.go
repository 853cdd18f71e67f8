package runner

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/luavm"
	"github.com/quire-ci/quire-hook/pkg/redact"
)

// MaxCapture is how much of each stream an sh call returns to Lua; the
// log file holds everything.
const MaxCapture = 1 << 20

// shOpts are the options of q.sh.
type shOpts struct {
	env     []string
	cwd     string
	stdin   string
	timeout time.Duration
	check   bool
}

// sh implements q.sh(cmd, opts).
func (h *handle) sh(L *lua.LState) int {
	h.alive(L)
	// display is the command as Lua gave it, returned as r.cmd; shown is
	// the same with secrets redacted, for the records and messages.
	argv, display, shown, err := shCommand(L.Get(1), h.e.secrets)
	if err != nil {
		L.RaiseError("q.sh: %v", err)
	}
	opts, err := parseShOpts(L.Get(2), h.e.quote)
	if err != nil {
		L.RaiseError("q.sh: %v", err)
	}
	dir := h.e.workspace
	if opts.cwd != "" {
		if dir, err = h.cwd(opts.cwd); err != nil {
			L.RaiseError("q.sh: %v", err)
		}
	}

	c, err := h.openCall(shown)
	if err != nil {
		L.RaiseError("q.sh: %v", err)
	}
	out := &capture{max: MaxCapture}
	errOut := &capture{max: MaxCapture}
	res, runErr := h.procs.Exec(h.ctx, executor.Proc{
		Argv:    argv,
		Dir:     dir,
		Env:     append(append([]string(nil), h.env...), opts.env...),
		Stdin:   opts.stdin,
		Timeout: opts.timeout,
		Stdout:  c.stream("stdout", out),
		Stderr:  c.stream("stderr", errOut),
	})
	if res.StartErr != nil {
		_ = c.log.Line("stderr", []byte(fmt.Sprintf("quire: cannot start %s: %v", argv[0], startCause(res.StartErr))))
	}
	if res.TimedOut {
		_ = c.log.Line("stderr", []byte(fmt.Sprintf("quire: killed after the %s timeout", opts.timeout)))
	}
	logErr, err := c.end(res.Exit)
	switch {
	case err != nil:
		L.RaiseError("q.sh: %v", err)
	case runErr != nil:
		L.RaiseError("q.sh %s: interrupted: %v", shown, runErr)
	case logErr != nil:
		L.RaiseError("q.sh %s: %v", shown, logErr)
	case opts.check && res.Exit != 0:
		L.RaiseError("command %s exited with %d (check = true)", shown, res.Exit)
	}

	t := L.NewTable()
	t.RawSetString("exit", lua.LNumber(res.Exit))
	t.RawSetString("stdout", lua.LString(out.buf))
	t.RawSetString("stderr", lua.LString(errOut.buf))
	t.RawSetString("cmd", lua.LString(display))
	luavm.Strict(L, t, "sh result", "field") // r.exti names the typo
	L.Push(t)
	return 1
}

// startCause is why a program could not be started, without exec's
// Go-quoted copy of its name: the caller names it, as it is, where
// redaction can find a secret in it.
func startCause(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// diskHint tells the operator what to do about a full disk.
func diskHint(err error, dataRoot string) string {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Sprintf("; free space for the data root %s", dataRoot)
	}
	return ""
}

// shCommand turns q.sh's first argument into an argv, the command as
// Lua gave it (display) and the command recorded in sh_events.cmd and
// shown in messages (shown): display with the secrets redacted. An argv
// is redacted element by element before it is shell-quoted, as quoting
// would escape the bytes of a secret where redaction cannot see them.
func shCommand(v lua.LValue, secrets *redact.Set) (argv []string, display, shown string, err error) {
	switch c := v.(type) {
	case lua.LString:
		if strings.TrimSpace(string(c)) == "" {
			return nil, "", "", fmt.Errorf("command is an empty string")
		}
		return []string{"sh", "-c", string(c)}, string(c), secrets.String(string(c)), nil
	case *lua.LTable:
		n := c.Len()
		if n == 0 {
			return nil, "", "", fmt.Errorf("command list is empty; pass a string or {\"prog\", \"arg\", ...}")
		}
		argv := make([]string, n)
		redacted := make([]string, n)
		for i := 1; i <= n; i++ {
			s, ok := c.RawGetInt(i).(lua.LString)
			if !ok {
				return nil, "", "", fmt.Errorf("command list entry %d is a %s, not a string", i, c.RawGetInt(i).Type())
			}
			argv[i-1] = string(s)
			redacted[i-1] = secrets.String(string(s))
		}
		// Redacted again whole: a secret may span elements.
		return argv, shellJoin(argv), secrets.String(shellJoinAs(argv, redacted)), nil
	default:
		return nil, "", "", fmt.Errorf("command must be a string or a list of strings, not a %s", v.Type())
	}
}

// parseShOpts validates q.sh's options table; unknown keys are errors.
// quote renders a key or name from Lua for a message.
func parseShOpts(v lua.LValue, quote func(string) string) (shOpts, error) {
	var o shOpts
	if v == lua.LNil {
		return o, nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return o, fmt.Errorf("options must be a table, not a %s", v.Type())
	}
	var err error
	t.ForEach(func(k, val lua.LValue) {
		if err != nil {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("option keys must be strings, got %s", k.Type())
			return
		}
		err = o.set(string(key), val, quote)
	})
	return o, err
}

func (o *shOpts) set(key string, v lua.LValue, quote func(string) string) error {
	switch key {
	case "env":
		t, ok := v.(*lua.LTable)
		if !ok {
			return fmt.Errorf("option env must be a table of strings, not a %s", v.Type())
		}
		if t.Len() > 0 {
			return fmt.Errorf(`option env maps names to values, as in {FOO = "bar"}, not a list`)
		}
		for _, k := range sortedKeys(t) {
			val := t.RawGetString(k)
			if val.Type() != lua.LTString && val.Type() != lua.LTNumber {
				return fmt.Errorf("env %s must be a string, not a %s", k, val.Type())
			}
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return fmt.Errorf("env name %s is not a valid variable name", quote(k))
			}
			o.env = append(o.env, k+"="+val.String())
		}
	case "cwd":
		s, ok := v.(lua.LString)
		if !ok {
			return fmt.Errorf("option cwd must be a string, not a %s", v.Type())
		}
		o.cwd = string(s)
	case "stdin":
		s, ok := v.(lua.LString)
		if !ok {
			return fmt.Errorf("option stdin must be a string, not a %s", v.Type())
		}
		o.stdin = string(s)
	case "timeout":
		n, ok := v.(lua.LNumber)
		if !ok || n <= 0 {
			return fmt.Errorf("option timeout must be a positive number of seconds, not %s", v.String())
		}
		o.timeout = time.Duration(float64(n) * float64(time.Second))
	case "check":
		b, ok := v.(lua.LBool)
		if !ok {
			return fmt.Errorf("option check must be a boolean, not a %s", v.Type())
		}
		o.check = bool(b)
	default:
		return fmt.Errorf("unknown option %s (known: env, cwd, stdin, timeout, check)", quote(key))
	}
	return nil
}

// cwd resolves q.sh's cwd option, which must be a directory inside the
// workspace (also after following symlinks).
func (h *handle) cwd(rel string) (string, error) {
	fi, err := h.root.Stat(rel)
	if err != nil {
		return "", fmt.Errorf("cwd %s: %w", h.e.quote(rel), rootErr(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("cwd %s is not a directory", h.e.quote(rel))
	}
	return filepath.Join(h.e.workspace, rel), nil
}

// capture keeps the first max bytes written to it.
type capture struct {
	buf []byte
	max int
}

func (c *capture) Write(b []byte) (int, error) {
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// tee writes to each non-nil writer, ignoring their errors: the log
// writer keeps its error and reports it on Close, and a failing log must
// not cut the output returned to Lua.
type tee [3]io.Writer

func (t tee) Write(b []byte) (int, error) {
	for _, w := range t {
		if w != nil {
			_, _ = w.Write(b)
		}
	}
	return len(b), nil
}

// shellJoin renders argv as a command line a person can paste into sh.
func shellJoin(argv []string) string {
	return shellJoinAs(argv, argv)
}

// shellJoinAs renders shown (argv with its secrets redacted) word by
// word, each quoted as the word of argv would be: redacting does not
// change how a word is quoted, so a bare secret reads {{ name }}, not
// '{{ name }}'.
func shellJoinAs(argv, shown []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' || r == '+' || r == '@' ||
				r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) < 0 {
			q[i] = shown[i]
			continue
		}
		q[i] = "'" + strings.ReplaceAll(shown[i], "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
