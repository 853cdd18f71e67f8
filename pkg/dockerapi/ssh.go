package dockerapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"sync"
	"time"
)

// sshDialer reaches an engine on another machine as the docker CLI does
// for ssh://: each connection is an ssh session running "docker system
// dial-stdio" there, which relays the engine's socket over stdin/stdout.
// The host's ssh config, keys and known_hosts apply; BatchMode keeps a
// missing key an error instead of a password prompt.
func sshDialer(u *url.URL) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		args := []string{"-o", "BatchMode=yes"}
		if u.User != nil {
			args = append(args, "-l", u.User.Username())
		}
		if p := u.Port(); p != "" {
			args = append(args, "-p", p)
		}
		args = append(args, "--", u.Hostname(), "docker", "system", "dial-stdio")
		cmd := exec.Command("ssh", args...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("ssh to %s: %w", u.Host, err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("ssh to %s: %w", u.Host, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("ssh to %s: %w; install openssh-client", u.Host, err)
		}
		return &cmdConn{cmd: cmd, in: stdin, out: stdout}, nil
	}
}

// cmdConn is a net.Conn over a command's stdin and stdout.
type cmdConn struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  io.ReadCloser
	once sync.Once
}

func (c *cmdConn) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *cmdConn) Write(p []byte) (int, error) { return c.in.Write(p) }

// CloseWrite ends the stream towards the engine (an exec's stdin).
func (c *cmdConn) CloseWrite() error { return c.in.Close() }

func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.in.Close()
		c.out.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	return nil
}

func (c *cmdConn) LocalAddr() net.Addr  { return sshAddr{} }
func (c *cmdConn) RemoteAddr() net.Addr { return sshAddr{} }

// SetDeadline is approximated: a deadline in the past closes the
// connection, which is all hijack and the transport need.
func (c *cmdConn) SetDeadline(t time.Time) error {
	if !t.IsZero() && !t.After(time.Now()) {
		c.Close()
	}
	return nil
}
func (c *cmdConn) SetReadDeadline(t time.Time) error  { return c.SetDeadline(t) }
func (c *cmdConn) SetWriteDeadline(t time.Time) error { return c.SetDeadline(t) }

type sshAddr struct{}

func (sshAddr) Network() string { return "ssh" }
func (sshAddr) String() string  { return "ssh" }
