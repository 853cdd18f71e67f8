// Package web is quire-hook's read-only web UI and JSON API (SPEC §14):
// `quire-hook serve` puts a Server behind an http.Server. It reads the
// same SQLite rows (pkg/store, opened read-only) and CRI log files
// (pkg/logpage) the hooks write, beside them, and never writes either.
//
// Pages are rendered on the server with html/template from files
// embedded in the binary; everything but live updates works without
// JavaScript, and live updates are Server-Sent Events read by a few lines
// of plain JS (static/live.js). Every text on a page was written by
// whoever can push — log lines, refs, commit messages, job ids, outputs —
// so it reaches the page only through html/template's escaping, and the
// Content-Security-Policy allows no inline script or style.
package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"
)

//go:embed templates/*.html static/*
var files embed.FS

// Options configure a Server.
type Options struct {
	// Sources finds the repositories and their databases.
	Sources *Sources
	// BasePath is the path prefix the server is reached under behind a
	// reverse proxy ("/ci"), or "" at the root.
	BasePath string
	// Auth, when set, requires HTTP Basic auth against an htpasswd file.
	Auth *Auth
	// Poll is how often a live page looks at the database and the log
	// files; 0 means 500 ms.
	Poll time.Duration
	// MaxStreams bounds the live streams (Server-Sent Events) open at once;
	// 0 means 64. More get 503.
	MaxStreams int
}

// Server serves the pages, the API and the static files. It is an
// http.Handler.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	pages   map[string]*template.Template
	static  fs.FS
	streams atomic.Int64
	// stop ends the live streams: Shutdown does not wait for them.
	stop    context.Context
	stopAll context.CancelFunc
}

// New returns a Server for opts.
func New(opts Options) (*Server, error) {
	if opts.Poll == 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.MaxStreams == 0 {
		opts.MaxStreams = 64
	}
	opts.BasePath = strings.TrimSuffix(opts.BasePath, "/")
	if opts.BasePath != "" && (!strings.HasPrefix(opts.BasePath, "/") || path.Clean(opts.BasePath) != opts.BasePath) {
		return nil, fmt.Errorf("base path %q must be a clean absolute path such as /ci", opts.BasePath)
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.stop, s.stopAll = context.WithCancel(context.Background())
	var err error
	if s.pages, err = s.parseTemplates(); err != nil {
		return nil, err
	}
	if s.static, err = fs.Sub(files, "static"); err != nil {
		return nil, fmt.Errorf("embedded static files: %w", err)
	}
	s.routes()
	return s, nil
}

// Stop ends the live streams, so that http.Server.Shutdown can finish;
// register it with RegisterOnShutdown.
func (s *Server) Stop() { s.stopAll() }

// routes registers every page. Patterns with GET match HEAD too.
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.reposPage)
	m.HandleFunc("GET /runs", s.runsPage)
	m.HandleFunc("GET /runs/{id}", s.runPage)
	m.HandleFunc("GET /runs/{id}/events", s.runEvents)
	// A log is one job's (job=ID) or one of its sh calls' (job=ID&sh=N):
	// job ids may hold a slash (quire/mirror), so they go in the query.
	m.HandleFunc("GET /runs/{id}/log", s.logPage)
	m.HandleFunc("GET /runs/{id}/log/events", s.logEvents)
	m.HandleFunc("GET /runs/{id}/log.txt", s.logText)
	m.HandleFunc("GET /runs/{id}/log.cri", s.logRaw)
	m.HandleFunc("GET /trends", s.trendsPage)
	m.HandleFunc("GET /badge/{path...}", s.badge)
	m.HandleFunc("GET /api/runs", s.apiRuns)
	m.HandleFunc("GET /api/runs/{id}", s.apiRun)
	m.HandleFunc("GET /static/ansi.css", s.ansiCSS)
	m.Handle("GET /static/", http.StripPrefix("/static/", s.staticFiles()))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.notFound(w, r, "no such page")
	})
}

// csp is the Content-Security-Policy of every response: nothing but
// this server's own files, no inline script or style, no framing.
const csp = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP applies what every request gets: the security headers, GET
// and HEAD only, auth, and the base path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: only GET and HEAD are allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.opts.Auth != nil && !s.opts.Auth.allow(w, r) {
		return
	}
	if s.opts.BasePath != "" {
		rest, ok := strings.CutPrefix(r.URL.Path, s.opts.BasePath)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			s.notFound(w, r, "no such page (this server is under "+s.opts.BasePath+"/)")
			return
		}
		if rest == "" {
			to := s.opts.BasePath + "/"
			if r.URL.RawQuery != "" {
				to += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		// The mux answers an unclean path (/runs/../x) with a redirect
		// to the clean one, which would lose the base path: redirect here.
		if clean := cleanPath(rest); clean != rest {
			to := s.opts.BasePath + clean
			if r.URL.RawQuery != "" {
				to += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, to, http.StatusMovedPermanently)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		r = r2
	}
	s.mux.ServeHTTP(w, r)
}

// staticFiles serves the embedded CSS and JS, cacheable for an hour.
func (s *Server) staticFiles() http.Handler {
	fsrv := http.FileServerFS(s.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			s.notFound(w, r, "no such file")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// url is p under the base path.
func (s *Server) url(p string) string { return s.opts.BasePath + p }

// cleanPath is p cleaned as http.ServeMux cleans it: path.Clean, with a
// trailing slash kept.
func cleanPath(p string) string {
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}
