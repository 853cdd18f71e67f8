package dockerapi

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Host returns host to use: explicit when set (config's docker_host),
// else $DOCKER_HOST, else DefaultHost.
func Host(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return DefaultHost
}

// dialer returns how to open a connection to host.
func dialer(host string) (func(ctx context.Context) (net.Conn, error), error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q is not a URL; use unix:///path, tcp://host:port or ssh://user@host", RedactHost(host))
	}
	var d net.Dialer
	switch u.Scheme {
	case "unix":
		// What follows unix:// is the path, relative or not, as the
		// docker CLI reads it (unix://run/d.sock is not /d.sock).
		path, ok := strings.CutPrefix(host, "unix://")
		if !ok {
			path = u.Opaque
		}
		if path == "" {
			break
		}
		return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "unix", path) }, nil
	case "tcp":
		if u.Host == "" {
			break
		}
		return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", u.Host) }, nil
	case "ssh":
		if u.Host == "" {
			break
		}
		return sshDialer(u), nil
	}
	return nil, fmt.Errorf("docker host %q is not unix:///path, tcp://host:port or ssh://user@host", RedactHost(host))
}

// RedactHost is host for a message: a password in it (ssh://u:pw@h,
// which ssh would not use anyway) is replaced by xxxxx.
func RedactHost(host string) string {
	if u, err := url.Parse(host); err == nil {
		if _, ok := u.User.Password(); !ok {
			return host
		}
		return u.Redacted()
	}
	if scheme, rest, ok := strings.Cut(host, "://"); ok {
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			return scheme + "://xxxxx@" + rest[i+1:]
		}
	}
	return host
}

// HostWarning returns what an operator should hear about engine host,
// "" for nothing: a tcp:// engine other than on loopback is reached in
// plain text (this client speaks no TLS), so whoever reaches that port
// is root on the engine's host, and every sh call's environment,
// secrets included, crosses the network readable.
func HostWarning(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "tcp" {
		return ""
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
		return ""
	}
	return fmt.Sprintf("docker host %s is plain TCP without TLS: whoever reaches it is root on that machine, and the environment of every sh call, secrets included, crosses the network unencrypted; use ssh://user@host or a unix socket", RedactHost(host))
}
