package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// chainedWait bounds how long a chained hook's output is drained after
// it exits, when it left a background process holding it open.
const chainedWait = 5 * time.Second

// Chained is a post-receive hook that install --chain kept, run as git
// would have run it.
type Chained struct {
	Path           string
	Stdout, Stderr io.Writer // the pusher's
	Env            []string  // git's environment for the hook
	Dir            string    // the directory git ran the hook in
}

// Run runs the hook with input as its stdin. The error says how it
// failed (for a warning: CI runs anyway); nil when it exited 0.
func (c Chained) Run(ctx context.Context, input []byte) error {
	cmd := exec.CommandContext(ctx, c.Path)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.WaitDelay = chainedWait
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.Exited():
		return fmt.Errorf("chained hook %s exited %d", c.Path, exit.ExitCode())
	case errors.As(err, &exit):
		return fmt.Errorf("chained hook %s ended by %v", c.Path, exit.ProcessState)
	}
	return fmt.Errorf("chained hook %s did not run: %w; fix it or run 'quire-hook install --force' to stop chaining it", c.Path, err)
}
