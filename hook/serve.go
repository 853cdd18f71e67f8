package hook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/web"
)

// The server's timeouts: a slow or stalled client cannot hold a
// connection (or a goroutine) for long. Live streams and downloads move
// their own write deadline forward as they write.
const (
	serveReadHeaderTimeout = 5 * time.Second
	serveReadTimeout       = 15 * time.Second
	serveWriteTimeout      = 60 * time.Second
	serveIdleTimeout       = 60 * time.Second
	serveShutdownTimeout   = 10 * time.Second
)

func serveCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve a read-only web UI and JSON API of the recorded runs",
		Description: "Serves the runs of one repository (--git-dir, $GIT_DIR or the current\n" +
			"directory) or of every bare repository with a quire database under each\n" +
			"--repos directory, searched again every 10 s so new repositories appear.\n" +
			"It reads the databases and log files the hooks write and never writes them.\n\n" +
			"Pages: / (each ref's latest run), /runs, /runs/<id>, logs, /trends; live\n" +
			"updates by Server-Sent Events; /badge/<repo>/<ref>.svg; /api/runs and\n" +
			"/api/runs/<id> (the runs --json and show --json objects).\n\n" +
			"It listens on 127.0.0.1 unless --listen says otherwise; anyone who can reach\n" +
			"it can read every log, so use --auth (an htpasswd file of bcrypt hashes:\n" +
			"htpasswd -cB FILE NAME) before listening elsewhere. SIGTERM or Ctrl-C\n" +
			"stops it after the requests in progress.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "the address to listen on, host:port (port 0 picks a free one)"},
			&cli.StringSliceFlag{Name: "repos", Usage: "serve every bare repository under this directory (repeatable)"},
			&cli.StringFlag{Name: "auth", Usage: "require HTTP Basic auth against this htpasswd file of bcrypt hashes"},
			&cli.StringFlag{Name: "base-path", Usage: "the path prefix behind a reverse proxy, such as /ci"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("serve takes no arguments; name repositories with --repos or --git-dir")
			}
			return g.serve(c.Context, c.String("listen"), c.StringSlice("repos"), c.String("auth"), c.String("base-path"))
		},
	}
}

// serve runs the web UI until ctx ends.
func (g *globals) serve(ctx context.Context, listen string, repos []string, authFile, basePath string) error {
	src := &web.Sources{Locator: g.locator()}
	for _, d := range repos {
		src.ReposDirs = append(src.ReposDirs, g.abs(d))
		// Served all the same: it is searched again every 10 s.
		if fi, err := os.Stat(g.abs(d)); err != nil || !fi.IsDir() {
			why := "is not a directory"
			if errors.Is(err, os.ErrNotExist) {
				why = "does not exist"
			} else if err != nil {
				why = "cannot be read: " + err.Error()
			}
			fmt.Fprintf(g.io.Stderr, "quire-hook serve: warning: --repos %s %s; check the path (it is searched again every 10 s)\n", g.abs(d), why)
		}
	}
	if len(repos) == 0 || g.gitDir != "" {
		r, err := g.openRepo(g.gitDir, g.io.Getenv("GIT_DIR"))
		if err != nil {
			return usageErr("%v; or serve a directory of repositories with --repos DIR", err)
		}
		src.GitDirs = []string{r.GitDir}
	}
	defer src.Close()

	opts := web.Options{Sources: src, BasePath: basePath}
	if authFile != "" {
		a, err := web.NewAuth(g.abs(authFile))
		if err != nil {
			return usageErr("--auth: %v", err)
		}
		opts.Auth = a
	}
	h, err := web.New(opts)
	if err != nil {
		return usageErr("--base-path: %v", err)
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		// net says "listen tcp ADDR: bind: ..."; say it once.
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err
		}
		return fmt.Errorf("listen on %s: %w; pick another address with --listen", listen, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() && opts.Auth == nil {
		fmt.Fprintf(g.io.Stderr, "quire-hook serve: warning: listening on %s without --auth: anyone who can reach it can read every log\n", addr)
	}
	fmt.Fprintf(g.io.Stderr, "quire-hook serve: listening on http://%s%s/\n", addr, opts.BasePath)

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    32 << 10,
	}
	srv.RegisterOnShutdown(h.Stop)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		// A request still going after the grace (a client that reads
		// nothing) is cut: stopping is what SIGTERM asked for.
		srv.Close()
		fmt.Fprintf(g.io.Stderr, "quire-hook serve: cut the requests still open after %s\n", serveShutdownTimeout)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(g.io.Stderr, "quire-hook serve: stopped")
	return nil
}
