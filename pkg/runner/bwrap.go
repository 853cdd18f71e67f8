package runner

import (
	"fmt"
	"os/exec"
	"syscall"
)

// Bwrap runs each sh call inside bubblewrap: the host file system
// read-only, the workspace read-write at its own path, a private /tmp,
// /dev and /proc, its own pid namespace, no network unless Network, and
// the sandbox dies with the hook.
type Bwrap struct {
	Path    string // the bwrap binary
	Network bool
}

// NewBwrap finds bwrap on PATH.
func NewBwrap(network bool) (*Bwrap, error) {
	path, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, fmt.Errorf("executor bwrap: %w; install bubblewrap (apt-get install bubblewrap)", err)
	}
	return &Bwrap{Path: path, Network: network}, nil
}

// Command implements Executor.
func (b *Bwrap) Command(argv []string, dir, ws string) []string {
	cmd := []string{b.Path,
		"--ro-bind", "/", "/",
		"--dev", "/dev",
		"--proc", "/proc",
		"--tmpfs", "/tmp",
		"--bind", ws, ws,
		"--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--die-with-parent",
		"--chdir", dir,
	}
	if !b.Network {
		cmd = append(cmd, "--unshare-net")
	}
	return append(append(cmd, "--"), argv...)
}

// Exit implements Executor. bwrap reports a child killed by signal N as
// exit status 128+N, as a shell does; that is mapped back to -N, so a
// command that itself exits with 129-192 reads as killed by a signal.
func (b *Bwrap) Exit(ws syscall.WaitStatus) int {
	code := Host{}.Exit(ws)
	if code > 128 && code <= 128+64 {
		return -(code - 128)
	}
	return code
}
