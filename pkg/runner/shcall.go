package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/redact"
)

// DefaultMaxLogBytes bounds an sh call's log when CallSettings do not.
const DefaultMaxLogBytes = 1 << 30

// CallSettings are the operator's settings of every sh call of a run
// (config.lua's env and max_log_bytes), whatever executor runs it.
type CallSettings struct {
	// Env is added to each call's environment after the CI variables;
	// the call's own opts.env still wins. NAME=value strings.
	Env []string
	// MaxLogBytes bounds each call's log file (0: DefaultMaxLogBytes):
	// past it the output is dropped, see crilog.Writer.Limit.
	MaxLogBytes int64
}

// Configure returns ex (nil: Host) carrying s to every sh call it runs.
// The settings travel with the executor, the one thing of a Runner
// consulted for each call.
func Configure(ex Executor, s CallSettings) Executor {
	if ex == nil {
		ex = Host{}
	}
	return configured{ex: ex, s: s}
}

// configured is an Executor with CallSettings.
type configured struct {
	ex Executor
	s  CallSettings
}

// Command implements Executor.
func (c configured) Command(argv []string, dir, ws string) []string {
	return c.ex.Command(argv, dir, ws)
}

// Exit implements Executor.
func (c configured) Exit(ws syscall.WaitStatus) int { return c.ex.Exit(ws) }

// callSettings returns the executor underneath ex (nil: Host) and the
// settings it carries, with MaxLogBytes defaulted.
func callSettings(ex Executor) (Executor, CallSettings) {
	var s CallSettings
	if c, ok := ex.(configured); ok {
		ex, s = c.ex, c.s
	}
	if ex == nil {
		ex = Host{}
	}
	if s.MaxLogBytes <= 0 {
		s.MaxLogBytes = DefaultMaxLogBytes
	}
	return ex, s
}

// startFailer is an Executor that can tell, after the fact, that a
// call's program never started although the executor's own process
// did.
type startFailer interface {
	startFailed(exit int, stderr []byte) bool
}

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

	h.seq++
	seq := h.seq
	logPath := filepath.Join(h.jobDir, "sh-"+strconv.Itoa(seq)+".log")
	// The log and the row exist before the process starts: a command
	// that ran always has both, even if the hook dies during it.
	w, err := crilog.Create(logPath)
	if err != nil {
		L.RaiseError("q.sh: create log: %v%s", err, diskHint(err, h.e.runner.DataRoot))
	}
	w.Redact(h.e.secrets)
	ex, settings := callSettings(h.e.runner.Executor)
	w.Limit(settings.MaxLogBytes)
	started := time.Now()
	if err := h.startCall(seq, shown, started); err != nil {
		w.Close()
		_ = os.Remove(logPath)
		L.RaiseError("q.sh: %v", err)
	}
	out := &capture{max: MaxCapture}
	errOut := &capture{max: MaxCapture}
	// One echo per stream: each is written by its own pump goroutine.
	outEcho := h.e.runner.Progress.Output(h.job.ID)
	errEcho := h.e.runner.Progress.Output(h.job.ID)
	res, runErr := runProc(h.ctx, Proc{
		Argv:    argv,
		Dir:     dir,
		Env:     append(append([]string(nil), h.env...), opts.env...),
		Stdin:   opts.stdin,
		Timeout: opts.timeout,
		Stdout:  tee{w.Stream("stdout"), out, outEcho},
		Stderr:  tee{w.Stream("stderr"), errOut, errEcho},

		Executor:  h.e.runner.Executor,
		Workspace: h.e.workspace,
	}, &h.pg)
	if res.StartErr != nil {
		_ = w.Line("stderr", []byte(fmt.Sprintf("quire: cannot start %s: %v", argv[0], startCause(res.StartErr))))
	}
	if res.TimedOut {
		_ = w.Line("stderr", []byte(fmt.Sprintf("quire: killed after the %s timeout", opts.timeout)))
	}
	if outEcho != nil {
		outEcho.Close()
		errEcho.Close()
	}
	logErr := w.Close()
	finished := time.Now()

	exit := res.Exit
	if sf, ok := ex.(startFailer); ok && res.StartErr == nil && sf.startFailed(exit, errOut.buf) {
		exit = 127 // as on the host: the program could not be started
	}
	// The mark goes first, so the ended row is whole; the call is
	// ended even if the mark could not be written.
	var markErr error
	if w.Truncated() {
		markErr = h.e.runner.Store.SetShEventLogTruncated(context.WithoutCancel(h.ctx), h.e.run.RunID, h.job.ID, seq)
	}
	if err := h.finishCall(seq, logPath, exit, finished, w); err != nil {
		L.RaiseError("q.sh: %v", err)
	}
	if markErr != nil {
		L.RaiseError("q.sh: %v", markErr)
	}
	switch {
	case runErr != nil:
		L.RaiseError("q.sh %s: interrupted: %v", shown, runErr)
	case logErr != nil:
		L.RaiseError("q.sh %s: %v%s", shown, logErr, diskHint(logErr, h.e.runner.DataRoot))
	case opts.check && exit != 0:
		L.RaiseError("command %s exited with %d (check = true)", shown, exit)
	}

	t := L.NewTable()
	t.RawSetString("exit", lua.LNumber(exit))
	t.RawSetString("stdout", lua.LString(out.buf))
	t.RawSetString("stderr", lua.LString(errOut.buf))
	t.RawSetString("cmd", lua.LString(display))
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
