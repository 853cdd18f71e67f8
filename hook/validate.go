package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/luavm"
	"github.com/quire-ci/quire-hook/pkg/pipeline"
)

func validateCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "load and check a pipeline without running it",
		ArgsUsage: "[<rev>]",
		Description: "Loads .quire/ci.lua at <rev> (default HEAD) of the repository, or the file given\n" +
			"with --file, checks the job graph, and prints the jobs in run order with their\n" +
			"inputs. Exits 1 listing every problem. Without --git-dir the repository is the\n" +
			"one the current directory is in, as for git. In a clone (a non-bare repository)\n" +
			"with no <rev>, it checks the working copy's .quire/ci.lua, uncommitted changes\n" +
			"included.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "a ci.lua file on disk instead of a commit"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document: the jobs in run order, or the problems"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := g.trailingFlags(c, "file=", "f=", "json")
			if err != nil {
				return err
			}
			if len(args) > 1 {
				return usageErr("validate takes at most one <rev>")
			}
			p, err := g.loadPipeline(c, append(args, "")[0], c.String("file"))
			return g.printValidated(p, err, c.Bool("json"))
		},
	}
}

// loadPipeline loads the pipeline validate checks: --file, else the
// working copy's of a clone when no rev is given, else the one at rev.
func (g *globals) loadPipeline(c *cli.Context, rev, file string) (*pipeline.Pipeline, error) {
	ctx := c.Context
	switch {
	case file != "" && rev != "":
		return nil, usageErr("give either <rev> or --file, not both")
	case file != "":
		return pipeline.LoadFile(ctx, g.abs(file), pipeline.Options{})
	}
	var r *gitrepo.Repo
	var err error
	if g.gitDir == "" && g.io.Getenv("GIT_DIR") == "" {
		// Here validate is a pipeline author's command, not an
		// operator's: like git, it finds the clone from any directory in
		// it, such as .quire.
		top, ok := enclosingRepo(g.io.Dir)
		if !ok {
			return nil, usageErr("no repository in %s or above it (no .git or objects/); run validate inside a clone, or check a file with --file PATH", g.io.Dir)
		}
		r, err = openRepoIn(top)
	} else {
		r, err = g.openRepo(g.gitDir, g.io.Getenv("GIT_DIR"))
	}
	if err != nil {
		return nil, err
	}
	if wt := workTree(r); wt != "" && rev == "" {
		// In a clone, the file being edited is the one to check.
		path := filepath.Join(wt, filepath.FromSlash(pipeline.File))
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no %s in the working copy %s; create it, or give a revision such as HEAD to check a commit", pipeline.File, wt)
		}
		fmt.Fprintf(g.io.Stderr, "quire-hook: note: checking the working copy's %s, uncommitted changes included; give a revision such as HEAD to check a commit\n", path)
		return pipeline.LoadFile(ctx, path, pipeline.Options{})
	}
	if rev == "" {
		rev = "HEAD"
	}
	commit, _, err := r.Resolve(rev)
	if err != nil {
		return nil, err
	}
	has, err := r.HasFile(commit, pipeline.File)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, fmt.Errorf("no %s at %s (%s)", pipeline.File, rev, gitrepo.ShortSHA(commit.String()))
	}
	src, err := r.TreeFS(commit)
	if err != nil {
		return nil, err
	}
	return pipeline.Load(ctx, src, pipeline.Options{})
}

// enclosingRepo returns the nearest of dir and its parents that holds
// a repository (holdsRepo), looking along dir as given (the shell's
// $PWD) and then along its real path, as git finds a clone from a
// symlink into it.
func enclosingRepo(dir string) (string, bool) {
	if top, ok := walkUp(dir); ok {
		return top, true
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
		return walkUp(real)
	}
	return "", false
}

// walkUp returns the nearest of dir and its parents that holds a
// repository.
func walkUp(dir string) (string, bool) {
	for {
		if holdsRepo(dir) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// holdsRepo reports whether openRepoIn finds a repository in dir: dir
// has a .git, or is a git directory itself (objects, refs and HEAD, as
// git requires; a source folder named objects is none).
func holdsRepo(dir string) bool {
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		return true
	}
	for _, name := range []string{"objects", "refs", "HEAD"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// workTree returns the working copy of a non-bare repository (the .git
// directory of a clone, or one with core.worktree), or "" for a bare one.
func workTree(r *gitrepo.Repo) string {
	if r.ConfigBool("core", "bare") {
		return ""
	}
	if wt := r.ConfigValue("core", "worktree"); wt != "" {
		if filepath.IsAbs(wt) {
			return filepath.Clean(wt)
		}
		return filepath.Join(r.GitDir, wt)
	}
	if filepath.Base(r.GitDir) == ".git" {
		return filepath.Dir(r.GitDir)
	}
	return ""
}

// validated is validate --json's document.
type validated struct {
	Valid    bool           `json:"valid"`
	Image    string         `json:"image,omitempty"`
	Jobs     []validJob     `json:"jobs"`
	Problems []validProblem `json:"problems"`
}

type validJob struct {
	ID     string   `json:"id"`
	Inputs []string `json:"inputs"`
	File   string   `json:"file"`
	Line   int      `json:"line,omitempty"`
}

type validProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// printValidated prints a loaded pipeline's jobs in run order, or every
// problem of a pipeline that did not load (exit 1).
func (g *globals) printValidated(p *pipeline.Pipeline, err error, asJSON bool) error {
	var le *luavm.LoadError
	if err != nil && !errors.As(err, &le) {
		return err
	}
	doc := validated{Valid: le == nil, Jobs: []validJob{}, Problems: []validProblem{}}
	if le != nil {
		for _, pr := range le.Problems {
			doc.Problems = append(doc.Problems, validProblem{File: pr.File, Line: pr.Line, Message: pr.Msg})
		}
	} else {
		defer p.Close()
		doc.Image = p.Image
		for _, j := range p.Order() {
			doc.Jobs = append(doc.Jobs, validJob{ID: j.ID, Inputs: append([]string{}, j.Inputs...), File: j.File, Line: j.Line})
		}
	}
	switch {
	case asJSON:
		enc := json.NewEncoder(g.io.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
	case le != nil:
		for _, pr := range le.Problems {
			fmt.Fprintln(g.io.Stdout, pr.String())
		}
	default:
		for i, j := range doc.Jobs {
			fmt.Fprintf(g.io.Stdout, "%d. %s <- %s\n", i+1, j.ID, strings.Join(j.Inputs, ", "))
		}
		if doc.Image != "" {
			fmt.Fprintf(g.io.Stdout, "image: %s\n", doc.Image)
		}
	}
	if le != nil {
		return &exitError{code: ExitFailed, err: fmt.Errorf("pipeline has %d problem(s)", len(le.Problems))}
	}
	return nil
}
