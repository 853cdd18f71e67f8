package dockerapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
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
		stderr := &tail{max: 4 << 10}
		cmd.Stderr = stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("ssh to %s: %w", u.Redacted(), err)
		}
		// A pipe of our own, not StdoutPipe: Wait, which runs as soon as
		// ssh exits, would close that one with the engine's last bytes
		// still unread in it.
		stdout, w, err := os.Pipe()
		if err != nil {
			stdin.Close()
			return nil, fmt.Errorf("ssh to %s: %w", u.Redacted(), err)
		}
		cmd.Stdout = w
		err = cmd.Start()
		w.Close()
		if err != nil {
			stdin.Close()
			stdout.Close()
			return nil, fmt.Errorf("ssh to %s: %w; install openssh-client", u.Redacted(), err)
		}
		c := &cmdConn{cmd: cmd, in: stdin, out: stdout, stderr: stderr, host: u.Redacted(), done: make(chan struct{})}
		go func() { c.err = cmd.Wait(); close(c.done) }()
		return c, nil
	}
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// cmdConn is a net.Conn over a command's stdin and stdout.
type cmdConn struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    io.ReadCloser
	stderr *tail
	host   string // for messages
	once   sync.Once
	done   chan struct{} // closed when ssh exited, err its status
	err    error
}

// Read reads what ssh relays; when ssh ended with a complaint, its end
// is that complaint rather than a bare EOF.
func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.out.Read(p)
	if err == io.EOF {
		if msg := oneLine(c.exited(), maxMessage); msg != "" {
			err = fmt.Errorf("ssh to %s: %s", c.host, msg)
		}
	}
	return n, err
}

// exited waits a moment for ssh to exit, once its stdout ended, and
// returns what it said on stderr if it failed.
func (c *cmdConn) exited() string {
	select {
	case <-c.done:
		if c.err != nil {
			return c.stderr.String()
		}
	case <-time.After(time.Second):
	}
	return ""
}
func (c *cmdConn) Write(p []byte) (int, error) {
	n, err := c.in.Write(p)
	if err != nil {
		if msg := oneLine(c.exited(), maxMessage); msg != "" {
			err = fmt.Errorf("ssh to %s: %s", c.host, msg)
		}
	}
	return n, err
}

// CloseWrite ends the stream towards the engine (an exec's stdin).
func (c *cmdConn) CloseWrite() error { return c.in.Close() }

func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.in.Close()
		c.out.Close()
		c.cmd.Process.Kill()
		<-c.done
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
