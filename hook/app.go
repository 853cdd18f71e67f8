// Package hook holds quire-hook's commands: each is a function of its
// explicit inputs (IO and the parsed flags) so that tests can call it.
package hook

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/buildinfo"
	"github.com/quire-ci/quire-hook/pkg/completion"
	"github.com/quire-ci/quire-hook/pkg/manpage"
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
	// Executable is the quire-hook binary that install writes into
	// hooks, demo copies and async starts; "" for this process's own.
	Executable string
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

// usageErr marks an error as bad usage or input (exit 2). Any error
// without a code exits 2 too.
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
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, errRunFailed) {
		return ExitFailed
	}
	code = ExitError
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "No help topic for "); ok {
		// urfave/cli's words for 'quire-hook help <unknown>'.
		msg = unknownCommand(strings.Trim(name, "'")).Error()
	}
	fmt.Fprintf(o.Stderr, "quire-hook: %s\n", oneLine(msg))
	return code
}

func unknownCommand(name string) error {
	return fmt.Errorf("unknown command '%s'; see quire-hook --help", name)
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

// App builds the command-line application. Every command also accepts
// the global flags after its name.
func App(o IO) *cli.App {
	g := &globals{io: o}
	app := &cli.App{
		Name:  "quire-hook",
		Usage: "run a repository's Lua pipeline on every push and record it in SQLite",
		Description: "Installed as the post-receive hook of bare git repositories (quire-hook install).\n" +
			"Global options may also follow the command: quire-hook install --git-dir X.",
		Writer:               o.Stdout,
		ErrWriter:            o.Stderr,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // Main decides the exit code
		Flags:                append(g.flags(), &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}),
		Before: func(c *cli.Context) error {
			g.read(c)
			return nil
		},
		Action: func(c *cli.Context) error {
			switch {
			case c.Bool("version"):
				fmt.Fprintf(o.Stdout, "quire-hook %s\n", buildinfo.Version())
				return nil
			case c.Args().Present():
				return unknownCommand(c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
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
			serveCommand(g),
			demoCommand(g),
			completionCommand(),
			manCommand(),
			asyncWorkerCommand(g),
		},
		OnUsageError: usageHandler,
	}
	for _, cmd := range app.Commands {
		g.acceptAfter(cmd)
	}
	return app
}

// usageHandler makes a command's flag errors exit 2 with one line.
func usageHandler(_ *cli.Context, err error, _ bool) error {
	return usageErr("%v; see --help", err)
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script",
		ArgsUsage: "bash|zsh|fish",
		Description: "Prints a completion script for the shell. For example:\n" +
			"  quire-hook completion bash > /etc/bash_completion.d/quire-hook\n" +
			"  quire-hook completion zsh > \"${fpath[1]}/_quire-hook\"\n" +
			"  quire-hook completion fish > ~/.config/fish/completions/quire-hook.fish\n" +
			"The bash and zsh scripts ask quire-hook itself for the words that fit.",
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("completion takes one shell: bash, zsh or fish")
			}
			script, err := completion.Script(c.App, c.Args().First())
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.App.Writer, script)
			return err
		},
	}
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (docs/quire-hook.1 is its output)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			page, err := manpage.Render(c.App, 1)
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.App.Writer, page)
			return err
		},
	}
}

// executable is the quire-hook binary: IO.Executable, else this
// process's own.
func (o IO) executable() (string, error) {
	if o.Executable != "" {
		return o.Executable, nil
	}
	bin, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary's path: %w", err)
	}
	return bin, nil
}
