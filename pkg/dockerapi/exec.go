package dockerapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// ExecConfig is the body of an exec create.
type ExecConfig struct {
	Cmd          []string
	Env          []string `json:",omitempty"`
	WorkingDir   string   `json:",omitempty"`
	User         string   `json:",omitempty"`
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	Tty          bool
}

// CreateExec prepares cfg to run in container id and returns the exec's
// id. The environment travels in the request body, never on a command
// line.
func (c *Client) CreateExec(ctx context.Context, id string, cfg ExecConfig) (string, error) {
	var out struct {
		ID string `json:"Id"`
	}
	if err := c.do(ctx, "POST", "/containers/"+id+"/exec", nil, cfg, &out); err != nil {
		return "", fmt.Errorf("create exec in container %s: %w", short(id), err)
	}
	return out.ID, nil
}

// Stream is a started exec's attached streams: read its output with
// Demux, write its stdin and CloseWrite it, Close it when done.
type Stream struct {
	conn net.Conn
	r    *bufio.Reader
}

// StartExec starts exec id attached (no TTY) and returns its streams.
func (c *Client) StartExec(ctx context.Context, id string) (*Stream, error) {
	conn, r, err := c.hijack(ctx, "/exec/"+id+"/start", map[string]bool{"Detach": false, "Tty": false})
	if err != nil {
		return nil, fmt.Errorf("start exec %s: %w", short(id), err)
	}
	return &Stream{conn: conn, r: r}, nil
}

// Write writes to the exec's stdin.
func (s *Stream) Write(p []byte) (int, error) { return s.conn.Write(p) }

// CloseWrite ends the exec's stdin.
func (s *Stream) CloseWrite() error {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the streams; a Demux in progress returns.
func (s *Stream) Close() error { return s.conn.Close() }

// Demux copies the multiplexed output to stdout and stderr until the
// engine closes the stream: each frame is an 8-byte header (stream
// 1 or 2, three zero bytes, a big-endian length) and its payload. Each
// Write is at most one frame's worth of one read.
func (s *Stream) Demux(stdout, stderr io.Writer) error {
	var hdr [8]byte
	buf := make([]byte, 32<<10)
	for {
		if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("read exec output: %w", err)
		}
		w := stdout
		switch hdr[0] {
		case 0, 1: // stdin is not echoed; treat as stdout
		case 2:
			w = stderr
		case 3: // systemerr: the engine's own message, e.g. exec failed
			w = stderr
		default:
			return fmt.Errorf("read exec output: bad frame header %x", hdr)
		}
		n := int(binary.BigEndian.Uint32(hdr[4:]))
		for n > 0 {
			m, err := s.r.Read(buf[:min(n, len(buf))])
			if m > 0 {
				if _, werr := w.Write(buf[:m]); werr != nil {
					return fmt.Errorf("write exec output: %w", werr)
				}
				n -= m
			}
			if err != nil && n > 0 {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF // the frame is not whole
				}
				return fmt.Errorf("read exec output: %w", err)
			}
		}
	}
}

// ExecState is the part of an exec inspect the executor reads.
type ExecState struct {
	Running  bool
	ExitCode int
	Pid      int // in the engine's host pid namespace
}

// InspectExec returns the state of exec id.
func (c *Client) InspectExec(ctx context.Context, id string) (ExecState, error) {
	var out ExecState
	if err := c.do(ctx, "GET", "/exec/"+id+"/json", nil, nil, &out); err != nil {
		return ExecState{}, fmt.Errorf("inspect exec %s: %w", short(id), err)
	}
	return out, nil
}

// IsNotRunning reports whether err is the engine refusing an exec
// because the container is not running.
func IsNotRunning(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == 409 || strings.Contains(e.Message, "is not running"))
}
