// Command quire-hook is a post-receive hook that runs a repository's Lua
// pipeline on every push and records it in SQLite and CRI log files.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/quire-ci/quire-hook/hook"
)

func main() {
	// SIGHUP too: a pusher's ssh session that hangs up must not leave the
	// run half-recorded and its processes running.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	// A pusher that goes away (Ctrl-C) closes the pipe behind stderr;
	// the run must still finish and record itself, so a broken pipe is a
	// write error, not a fatal signal. Notify, not Ignore: an ignored
	// signal would stay ignored in the jobs' processes too.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	args := os.Args
	// Installed as a symlink named post-receive, git runs it with no
	// arguments: select the command from the name.
	if filepath.Base(args[0]) == "post-receive" {
		args = append([]string{args[0], "post-receive"}, args[1:]...)
	}
	wd, _ := os.Getwd()
	env := os.Environ()
	// The commands read git's variables (GIT_DIR, GIT_PUSH_OPTION_*) from
	// env; a process this one starts itself, such as go-git's
	// git-receive-pack for a local mirror, must not inherit them.
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "GIT_") {
			os.Unsetenv(name)
		}
	}
	code := hook.Main(ctx, args, hook.IO{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Env:    env,
		Dir:    wd,
	})
	stop()
	os.Exit(code)
}
