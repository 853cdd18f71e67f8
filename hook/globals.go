package hook

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/notes"
	"github.com/quire-ci/quire-hook/pkg/notify"
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

	repoNames map[string]string // repoName's answers by git dir: each costs a git process
}

// flags are the global flags, new ones on every call.
func (g *globals) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "git-dir", Usage: "the bare repository (default: $GIT_DIR, else the current directory)"},
		&cli.StringFlag{Name: "data-dir", Usage: "where runs are recorded (default: $QUIRE_DATA_DIR, git config quire.dataDir, else <git-dir>/quire)"},
		&cli.StringFlag{Name: "config", Usage: "operator config file (default: $QUIRE_CONFIG, else <data-dir>/config.lua)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only failures"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "stream every sh output line, prefixed with [job]"},
	}
}

// read takes the global flags given in c. Each command accepts them
// too (acceptAfter), and runs read again for its own: so
// "quire-hook install --git-dir X" is "quire-hook --git-dir X install".
func (g *globals) read(c *cli.Context) {
	for name, dst := range map[string]*string{"git-dir": &g.gitDir, "data-dir": &g.dataDir, "config": &g.config} {
		if c.IsSet(name) {
			*dst = c.String(name)
		}
	}
	for name, dst := range map[string]*bool{"quiet": &g.quiet, "verbose": &g.verbose} {
		if c.IsSet(name) {
			*dst = c.Bool(name)
		}
	}
}

// acceptAfter adds the global flags the command does not define itself
// to it, hidden from its help, and reads them before its action runs.
func (g *globals) acceptAfter(cmd *cli.Command) {
	defined := map[string]bool{}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			defined[n] = true
		}
	}
	for _, f := range g.flags() {
		if slices.ContainsFunc(f.Names(), func(n string) bool { return defined[n] }) {
			continue
		}
		switch f := f.(type) {
		case *cli.StringFlag:
			f.Hidden = true
		case *cli.BoolFlag:
			f.Hidden = true
		}
		cmd.Flags = append(cmd.Flags, f)
	}
	if action := cmd.Action; action != nil {
		cmd.Action = func(c *cli.Context) error {
			g.read(c)
			return action(c)
		}
	}
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
			dir := g.abs(c)
			if err := g.checkGitDir(dir, c); err != nil {
				return nil, err
			}
			return gitrepo.Open(dir)
		}
	}
	return openRepoIn(g.io.Dir)
}

// openRepoIn opens the repository dir is, or the clone's .git in it.
func openRepoIn(dir string) (*gitrepo.Repo, error) {
	if fi, err := os.Stat(filepath.Join(dir, ".git")); err == nil && fi.IsDir() {
		dir = filepath.Join(dir, ".git")
	}
	return gitrepo.Open(dir)
}

// checkGitDir says what is wrong with dir, the repository named by
// --git-dir or $GIT_DIR (value, as given), when it is plainly not one:
// a path that does not exist or is not a directory, or a clone's work
// tree. gitrepo.Open judges the rest.
func (g *globals) checkGitDir(dir, value string) error {
	source, flag := "the path in GIT_DIR", "GIT_DIR"
	if value == g.gitDir {
		source, flag = "the path given with --git-dir", "--git-dir"
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("open repository %s: no such directory; check %s", dir, source)
	case err != nil:
		return fmt.Errorf("open repository: %w; check that this user can reach %s", err, source)
	case !fi.IsDir():
		return fmt.Errorf("open repository %s: not a directory; give %s the bare repository's directory", dir, flag)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects")); err == nil {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		return fmt.Errorf("open repository %s: a clone's work tree, not a git directory; pass the bare repository that is pushed to with --git-dir", dir)
	}
	return nil
}

// locator applies SPEC §2's rules with this command's flag and
// environment.
func (g *globals) locator() datadir.Locator {
	return datadir.Locator{Flag: g.dataDir, Env: g.io.Env, Dir: g.io.Dir}
}

// dataRoot is the data root of r (SPEC §2).
func (g *globals) dataRoot(r *gitrepo.Repo) string {
	return string(g.locator().Root(r.GitDir, r.ConfigValue("quire", "dataDir")))
}

// repoName is runs.repo for r (SPEC §2).
func (g *globals) repoName(r *gitrepo.Repo) string {
	if name, ok := g.repoNames[r.GitDir]; ok {
		return name
	}
	name := g.locator().RepoName(r.GitDir, datadir.Root(g.dataRoot(r)))
	if g.repoNames == nil {
		g.repoNames = map[string]string{}
	}
	g.repoNames[r.GitDir] = name
	return name
}

// reposRoot is the root that runs.repo names are relative to, or "".
func (g *globals) reposRoot(r *gitrepo.Repo) string {
	return g.locator().ReposRoot(r.GitDir)
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
	s, err := store.OpenRoot(ctx, dataRoot)
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
	rn := &runner.Runner{
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
	}
	if !cfg.Notes.Off {
		rn.Reporters = append(rn.Reporters, notes.Reporter{Store: s, Ref: cfg.Notes.Ref})
	}
	if len(cfg.Notify) > 0 {
		rn.Reporters = append(rn.Reporters, &notify.Reporter{Store: s, Notify: cfg.Notify, Sendmail: cfg.Sendmail,
			Secrets: cfg.Secrets, Env: g.io.Env, URL: rn.URL})
	}
	return rn, nil
}

// loadConfig reads config.lua: --config, else $QUIRE_CONFIG, else
// <data-root>/config.lua, which may be absent.
func (g *globals) loadConfig(ctx context.Context, dataRoot string) (config.Config, error) {
	path, required, hint := g.config, true, "fix the path given with --config"
	if path == "" {
		path, hint = g.io.Getenv("QUIRE_CONFIG"), "fix QUIRE_CONFIG, or unset it to read "+datadir.Root(dataRoot).Config()
	}
	if path == "" {
		path, required = datadir.Root(dataRoot).Config(), false
	}
	cfg, err := config.Load(ctx, g.abs(path), required)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, fmt.Errorf("%w; %s", err, hint)
	}
	return cfg, err
}
