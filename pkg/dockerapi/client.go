// Package dockerapi is a small client of the Docker Engine API: the few
// calls the docker executor makes (images, containers, execs), over a
// unix socket, TCP or an ssh tunnel, with the API version negotiated so
// that Debian's engine 20.10 (API 1.41), newer engines and podman's
// Docker-compatible socket all answer.
//
// It is written here rather than imported: the official SDK module pulls
// in dozens of modules for the dozen endpoints used, and the docker CLI
// would put each exec's environment (secrets included) on a command
// line and leave no handle on an exec's process.
package dockerapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MinAPIVersion is the oldest Engine API this client speaks: Docker
// 20.10's, which is what Debian 12 ships.
const MinAPIVersion = "1.41"

// maxAPIVersion is the newest Engine API this client asks for. Engines
// newer than that serve it as an older version; engines that dropped
// 1.41 (Docker 29 needs 1.44) get a version up to this one. Every call
// here means the same in all versions from 1.41 to this one.
const maxAPIVersion = "1.47"

// DefaultHost is the engine when neither DOCKER_HOST nor config names one.
const DefaultHost = "unix:///var/run/docker.sock"

// DefaultCallTimeout bounds each API call that is not a stream (a pull,
// an import, an exec's output), the handshake of an exec's stream
// included: an engine that takes a request and never answers fails the
// call instead of hanging the run.
const DefaultCallTimeout = 2 * time.Minute

// maxAnswer bounds an engine's JSON answer, and maxHeader the headers
// of an exec's stream: a broken or hostile engine costs an error, not
// the hook's memory.
const (
	maxAnswer = 16 << 20
	maxHeader = 1 << 20
)

// maxMessage bounds an engine's error message as quire-hook repeats it.
const maxMessage = 1024

// pingTimeout bounds the first contact with the engine, so that an engine
// that does not answer fails the run at once instead of hanging it.
const pingTimeout = 10 * time.Second

// Client talks to one engine. Make it with Dial.
type Client struct {
	host    string // as given but for a password, for messages
	dial    func(ctx context.Context) (net.Conn, error)
	http    *http.Client
	version string // negotiated API version, without the "v"
	// callTimeout bounds each call but streams; see DefaultCallTimeout.
	callTimeout time.Duration
}

// Dial connects to the engine at host (unix:///path, tcp://host:port or
// ssh://[user@]host[:port]) and negotiates the API version. An engine
// that does not answer within a few seconds is an error naming host.
func Dial(ctx context.Context, host string) (*Client, error) {
	dial, err := dialer(host)
	if err != nil {
		return nil, err
	}
	c := &Client{host: RedactHost(host), dial: dial, callTimeout: DefaultCallTimeout}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
		MaxIdleConns:        4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
	}}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := c.negotiate(pctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("docker engine at %s does not answer: %w; start it or set DOCKER_HOST (or docker_host in config.lua)", c.host, err)
	}
	return c, nil
}

// Close frees the client's idle connections.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

// SetCallTimeout sets the bound of each call but streams; 0 or less
// keeps DefaultCallTimeout. Call it before the client is used.
func (c *Client) SetCallTimeout(d time.Duration) {
	if d > 0 {
		c.callTimeout = d
	}
}

// Version returns the negotiated API version, such as "1.41".
func (c *Client) Version() string { return c.version }

// HostName returns the engine address the client was made with, a
// password in it replaced by xxxxx.
func (c *Client) HostName() string { return c.host }

// negotiate asks the engine its API versions and picks the newest both
// speak.
func (c *Client) negotiate(ctx context.Context) error {
	var v struct {
		APIVersion    string `json:"ApiVersion"`
		MinAPIVersion string `json:"MinAPIVersion"`
	}
	if err := c.do(ctx, "GET", "/version", nil, nil, &v); err != nil {
		return err
	}
	if v.APIVersion == "" {
		return errors.New("GET /version gave no ApiVersion")
	}
	if versionLess(v.APIVersion, MinAPIVersion) {
		return fmt.Errorf("engine API %s is older than %s (Docker 20.10); upgrade the engine", v.APIVersion, MinAPIVersion)
	}
	c.version = maxAPIVersion
	if versionLess(v.APIVersion, c.version) {
		c.version = v.APIVersion
	}
	if v.MinAPIVersion != "" && versionLess(c.version, v.MinAPIVersion) {
		return fmt.Errorf("engine needs API %s or newer, this quire-hook speaks %s to %s", v.MinAPIVersion, MinAPIVersion, maxAPIVersion)
	}
	return nil
}

// versionLess compares two "major.minor" API versions.
func versionLess(a, b string) bool {
	am, an := splitVersion(a)
	bm, bn := splitVersion(b)
	return am < bm || am == bm && an < bn
}

func splitVersion(v string) (int, int) {
	maj, min, _ := strings.Cut(v, ".")
	x, _ := strconv.Atoi(maj)
	y, _ := strconv.Atoi(min)
	return x, y
}

// Error is an error answer of the engine: its status and message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("engine answered %d: %s", e.Status, oneLine(e.Message, maxMessage))
}

// IsNotFound reports whether err is the engine's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// path prefixes p with the negotiated version.
func (c *Client) path(p string) string {
	if c.version == "" {
		return p // /version and /_ping before negotiation
	}
	return "/v" + c.version + p
}

// do sends a request with body in (JSON, nil for none) and decodes the
// answer, at most maxAnswer bytes, into out (nil to drop it), all
// within the call timeout.
func (c *Client) do(ctx context.Context, method, p string, query url.Values, in, out any) error {
	ctx, cancel := c.withCallTimeout(ctx)
	defer cancel()
	resp, err := c.send(ctx, method, p, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := &limitReader{r: resp.Body, n: maxAnswer}
	if out == nil {
		_, err = io.Copy(io.Discard, body)
	} else {
		err = json.NewDecoder(body).Decode(out)
	}
	if err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, p, orCause(ctx, err))
	}
	return nil
}

// withCallTimeout bounds ctx by the call timeout, with a cause that
// says so.
func (c *Client) withCallTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, c.callTimeout,
		fmt.Errorf("the engine at %s gave no answer within %s", c.host, c.callTimeout))
}

// orCause prefers the cause of ctx, when it ended, over err.
func orCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// limitReader reads at most n bytes of r; more is an error.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("the answer is larger than %d MiB", maxAnswer>>20)
	}
	n, err := l.r.Read(p[:min(int64(len(p)), l.n)])
	l.n -= int64(n)
	return n, err
}

// send sends a request and returns a 2xx response, whose body the caller
// closes; another status is an *Error.
func (c *Client) send(ctx context.Context, method, p string, query url.Values, in any) (*http.Response, error) {
	req, err := c.request(ctx, method, p, query, in)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and a made-up URL
		}
		return nil, fmt.Errorf("%s %s: %w", method, p, orCause(ctx, err))
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

func (c *Client) request(ctx context.Context, method, p string, query url.Values, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", method, p, err)
		}
		body = bytes.NewReader(b)
	}
	u := "http://docker" + c.path(p)
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// readError turns an error answer into an *Error.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	b = bytes.TrimSpace(b)
	var m struct {
		Message string `json:"message"`
	}
	msg := string(b)
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	return &Error{Status: resp.StatusCode, Message: oneLine(msg, maxMessage)}
}

// hijack sends a request that upgrades the connection to a raw stream
// (exec start, attach) and returns the connection, positioned after the
// response headers, and a reader over what the engine already sent. The
// handshake is bounded by the call timeout and its headers by maxHeader;
// the stream is not.
func (c *Client) hijack(ctx context.Context, p string, in any) (net.Conn, *bufio.Reader, error) {
	ctx, cancel := c.withCallTimeout(ctx)
	defer cancel()
	req, err := c.request(ctx, "POST", p, nil, in)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("POST %s: %w", p, orCause(ctx, err))
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("POST %s: %w", p, orCause(ctx, err))
	}
	lr := &io.LimitedReader{R: conn, N: maxHeader}
	br := bufio.NewReader(lr)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		if lr.N <= 0 {
			err = fmt.Errorf("the answer's headers are larger than %d KiB", maxHeader>>10)
		}
		return nil, nil, fmt.Errorf("POST %s: %w", p, orCause(ctx, err))
	}
	lr.N = math.MaxInt64 // the stream itself is not bounded
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		defer conn.Close()
		return nil, nil, readError(resp)
	}
	if !stop() {
		conn.Close()
		return nil, nil, fmt.Errorf("POST %s: %w", p, context.Cause(ctx))
	}
	return conn, br, nil
}
