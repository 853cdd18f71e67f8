// Package hook holds quire-hook's commands: each is a function of its
// explicit inputs (IO and the parsed flags) so that tests can call it.
package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// IO is what a command reads and writes: the process's standard streams,
// environment and working directory, passed explicitly.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Env    []string
	Dir    string
}

// Getenv returns the last value of name in the environment.
func (o IO) Getenv(name string) string {
	for i := len(o.Env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(o.Env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

// Exit codes (SPEC §3).
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitError  = 2
)

// exitError carries a command's exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errRunFailed is returned when the work was done but a run failed;
// progress output has already said why.
var errRunFailed = errors.New("a run failed")

// usageErr marks an error as bad usage or input (exit 2).
func usageErr(format string, args ...any) error {
	return &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
}

// Main runs the command line and returns the process's exit code. It
// prints at most one "quire-hook: ..." line for an error and never lets a
// panic through.
func Main(ctx context.Context, args []string, o IO) (code int) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(o.Stderr, "quire-hook: internal error: %v; please report this with the command you ran\n", v)
			if o.Getenv("QUIRE_DEBUG") != "" {
				o.Stderr.Write(debug.Stack())
			}
			code = ExitError
		}
	}()
	err := App(o).RunContext(ctx, args)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errRunFailed):
		return ExitFailed
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.code == ExitFailed && errors.Is(ee.err, errRunFailed) {
			return ExitFailed
		}
		fmt.Fprintf(o.Stderr, "quire-hook: %s\n", oneLine(ee.err.Error()))
		return ee.code
	}
	// Anything else comes from flag parsing or an unexpected failure.
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "No help topic for "); ok {
		// urfave/cli's words for an unknown command.
		msg = fmt.Sprintf("unknown command %s; see quire-hook --help", name)
	}
	fmt.Fprintf(o.Stderr, "quire-hook: %s\n", oneLine(msg))
	return ExitError
}

// oneLine keeps an error on one line; multi-line detail (pipeline
// problems) is printed by the command itself before it returns.
func oneLine(s string) string {
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return s
	}
	return fmt.Sprintf("%s (and %d more lines)", first, strings.Count(rest, "\n")+1)
}

// App builds the command-line application.
func App(o IO) *cli.App {
	g := &globals{io: o}
	return &cli.App{
		Name:            "quire-hook",
		Usage:           "run a repository's Lua pipeline on every push and record it in SQLite",
		Writer:          o.Stdout,
		ErrWriter:       o.Stderr,
		HideHelpCommand: false,
		ExitErrHandler:  func(*cli.Context, error) {}, // Main decides the exit code
		Flags:           g.flags(),
		Before:          g.before,
		Commands: []*cli.Command{
			postReceiveCommand(g),
			replayCommand(g),
			validateCommand(g),
			installCommand(g),
			runsCommand(g),
			showCommand(g),
			logsCommand(g),
			cancelCommand(g),
			reconcileCommand(g),
			gcCommand(g),
			demoCommand(g),
			asyncWorkerCommand(g),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageErr("%v; see --help", err)
		},
	}
}

// usageHandler makes a command's flag errors exit 2 with one line.
func usageHandler(_ *cli.Context, err error, _ bool) error {
	return usageErr("%v; see --help", err)
}
