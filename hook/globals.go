package hook

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// globals are the flags every command shares, plus the command's IO.
type globals struct {
	io      IO
	gitDir  string
	dataDir string
	config  string
	quiet   bool
	verbose bool

	keepRuns int // config.lua's keep_runs, once newRunner has read it
}

func (g *globals) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "git-dir", Usage: "the bare repository (default: $GIT_DIR, else the current directory)"},
		&cli.StringFlag{Name: "data-dir", Usage: "where runs are recorded (default: $QUIRE_DATA_DIR, git config quire.dataDir, else <git-dir>/quire)"},
		&cli.StringFlag{Name: "config", Usage: "operator config file (default: $QUIRE_CONFIG, else <data-dir>/config.lua)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only failures"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "stream every sh output line, prefixed with [job]"},
	}
}

func (g *globals) before(c *cli.Context) error {
	g.gitDir = c.String("git-dir")
	g.dataDir = c.String("data-dir")
	g.config = c.String("config")
	g.quiet = c.Bool("quiet")
	g.verbose = c.Bool("verbose")
	return nil
}

// abs resolves p against the command's working directory.
func (g *globals) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(g.io.Dir, p)
}

// openRepo opens the repository named by candidates, the first
// non-empty of which wins, else the working directory (or its .git).
func (g *globals) openRepo(candidates ...string) (*gitrepo.Repo, error) {
	for _, c := range candidates {
		if c != "" {
			return openRepoAt(g.abs(c))
		}
	}
	dir := g.io.Dir
	if fi, err := os.Stat(filepath.Join(dir, ".git")); err == nil && fi.IsDir() {
		dir = filepath.Join(dir, ".git")
	}
	return openRepoAt(dir)
}

func openRepoAt(dir string) (*gitrepo.Repo, error) {
	r, err := gitrepo.Open(dir)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return r, nil
}

// dataRoot picks the data root of a repository (SPEC §2).
func (g *globals) dataRoot(r *gitrepo.Repo) string {
	if g.dataDir != "" {
		return g.abs(g.dataDir)
	}
	if d := g.io.Getenv("QUIRE_DATA_DIR"); d != "" {
		return g.abs(d)
	}
	if d := r.ConfigValue("quire", "dataDir"); d != "" {
		if filepath.IsAbs(d) {
			return filepath.Clean(d)
		}
		return filepath.Join(r.GitDir, d)
	}
	return filepath.Join(r.GitDir, "quire")
}

// repoName is runs.repo (SPEC §2), which must name one repository
// among all that share a data root: its path under the repos root (git
// config quire.reposRoot, else $QUIRE_REPOS_ROOT) when that contains it,
// else its base name when the data root is its own, else its absolute
// path.
func (g *globals) repoName(r *gitrepo.Repo) string {
	if root := g.reposRoot(r); root != "" {
		if rel, ok := under(root, r.GitDir); ok {
			return rel
		}
	}
	if filepath.Clean(g.dataRoot(r)) == filepath.Join(r.GitDir, "quire") {
		return filepath.Base(r.GitDir)
	}
	return r.GitDir
}

// reposRoot is git config quire.reposRoot as git reads it (system,
// global and the repository's own config; relative to the repository),
// else $QUIRE_REPOS_ROOT (relative to the working directory), else "".
func (g *globals) reposRoot(r *gitrepo.Repo) string {
	if root := gitConfigPath(r.GitDir, g.io.Env, "quire.reposRoot"); root != "" {
		if filepath.IsAbs(root) {
			return filepath.Clean(root)
		}
		return filepath.Join(r.GitDir, root)
	}
	if root := g.io.Getenv("QUIRE_REPOS_ROOT"); root != "" {
		return g.abs(root)
	}
	return ""
}

// gitConfigPath reads a path option with the git CLI, which, unlike
// go-git, also reads the system and global config (and honours
// GIT_CONFIG_SYSTEM, GIT_CONFIG_GLOBAL and the like in env). "" when the
// option is unset or git cannot be run; then the repository's own
// config is all there is.
func gitConfigPath(gitDir string, env []string, key string) string {
	cmd := exec.Command("git", "--git-dir", gitDir, "config", "--type=path", "--get", key)
	cmd.Env = gitConfigEnv(env)
	cmd.Dir = gitDir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// gitConfigEnv is env without the variables that point git at another
// repository or work tree; those saying which config files to read stay.
func gitConfigEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GIT_") && !strings.HasPrefix(name, "GIT_CONFIG") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// under returns path relative to root, with slashes, when root contains
// it (and is not it). Symbolic links are resolved if the plain paths do
// not match: /srv/git may be a link to where the repositories are.
func under(root, path string) (string, bool) {
	rel := func(root, path string) (string, bool) {
		r, err := filepath.Rel(root, path)
		if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.ToSlash(r), true
	}
	if r, ok := rel(root, path); ok {
		return r, true
	}
	realRoot, err1 := filepath.EvalSymlinks(root)
	realPath, err2 := filepath.EvalSymlinks(path)
	if err1 != nil || err2 != nil {
		return "", false
	}
	return rel(realRoot, realPath)
}

// openStore creates the data root if needed and opens its database.
func openStore(ctx context.Context, dataRoot string) (*store.Store, error) {
	if err := os.MkdirAll(dataRoot, 0o755); err != nil {
		return nil, usageErr("create data root: %v; set --data-dir or QUIRE_DATA_DIR to a writable directory", err)
	}
	s, err := store.Open(ctx, filepath.Join(dataRoot, "quire.db"))
	if err != nil {
		var tooNew *store.SchemaVersionError
		if errors.As(err, &tooNew) {
			return nil, usageErr("%v", err)
		}
		// SQLite's own words ("unable to open database file") do not say
		// what to do.
		return nil, usageErr("%v; check that %s and the files in it are writable by this user (%s), or set --data-dir or QUIRE_DATA_DIR", err, dataRoot, currentUser())
	}
	return s, nil
}

// currentUser names the user this process runs as, for messages.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

// progress builds the pusher-facing progress printer; git config
// quire.verbose and the QUIRE_VERBOSE variable work like --verbose.
func (g *globals) progress(r *gitrepo.Repo) *runner.Progress {
	verbose := g.verbose || g.io.Getenv("QUIRE_VERBOSE") != ""
	if !verbose && r != nil {
		verbose = r.ConfigBool("quire", "verbose")
	}
	return runner.NewProgress(g.io.Stderr, g.quiet, verbose)
}

// openRunner opens the data root of r, finishes an interrupted gc, and
// wires a Runner; the returned function closes the store. Runs whose
// hook died are reconciled by the runner once it holds its turn.
func (g *globals) openRunner(ctx context.Context, r *gitrepo.Repo) (*runner.Runner, func(), error) {
	dataRoot := g.dataRoot(r)
	s, err := openStore(ctx, dataRoot)
	if err != nil {
		return nil, nil, err
	}
	sweepQuietly(ctx, s, dataRoot, g.io.Stderr)
	rn, err := g.newRunner(ctx, r, s, dataRoot)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return rn, func() { s.Close() }, nil
}

// newRunner wires a Runner for one repository, with the operator's
// config.lua applied: the top level, overridden by the repository's
// repos entry (keyed by runs.repo).
func (g *globals) newRunner(ctx context.Context, r *gitrepo.Repo, s *store.Store, dataRoot string) (*runner.Runner, error) {
	cfg, err := g.loadConfig(ctx, dataRoot)
	if err != nil {
		return nil, err
	}
	prog := g.progress(r)
	warnings := cfg.Warnings
	if len(cfg.Repos) > 0 {
		warnings = append(warnings, cfg.UnknownRepos(g.reposRoot(r))...)
	}
	for _, w := range warnings {
		prog.Failf("warning: %s", w)
	}
	g.keepRuns = cfg.KeepRuns
	rc := cfg.ForRepo(g.repoName(r))
	ex, err := rc.NewExecutor(dataRoot, r.GitDir, true) // the hook starts no children of its own while jobs run
	if err != nil {
		return nil, usageErr("config %s: %v", cfg.Path, err)
	}
	return &runner.Runner{
		Store:    s,
		DataRoot: dataRoot,
		GitDir:   r.GitDir,
		Env:      g.io.Env,
		Progress: prog,
		Settings: runner.Settings{
			JobTimeout:      cfg.JobTimeout,
			RunTimeout:      cfg.RunTimeout,
			KeepWorkspace:   cfg.KeepWorkspace,
			MaxParallelRuns: cfg.MaxParallelRuns,
			Env:             rc.EnvList(),
			MaxLogBytes:     rc.MaxLogBytes,
		},
		Secrets:  cfg.Secrets,
		URL:      r.ConfigValue("quire", "url"),
		Executor: ex,
	}, nil
}

// loadConfig reads config.lua: --config, else $QUIRE_CONFIG, else
// <data-root>/config.lua, which may be absent.
func (g *globals) loadConfig(ctx context.Context, dataRoot string) (config.Config, error) {
	path, required := g.config, true
	if path == "" {
		path = g.io.Getenv("QUIRE_CONFIG")
	}
	if path == "" {
		path, required = filepath.Join(dataRoot, "config.lua"), false
	}
	cfg, err := config.Load(ctx, g.abs(path), required)
	if err != nil {
		return cfg, usageErr("%v", err)
	}
	return cfg, nil
}
