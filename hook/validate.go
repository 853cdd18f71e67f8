package hook

import (
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
			"inputs. Exits 1 listing every problem. In a clone (a non-bare repository) with\n" +
			"no <rev>, it checks the working copy's .quire/ci.lua, uncommitted changes included.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "a ci.lua file on disk instead of a commit"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageErr("validate takes at most one <rev>")
			}
			return g.validate(c, c.Args().First(), c.String("file"))
		},
	}
}

func (g *globals) validate(c *cli.Context, rev, file string) error {
	ctx := c.Context
	var p *pipeline.Pipeline
	var err error
	switch {
	case file != "" && rev != "":
		return usageErr("give either <rev> or --file, not both")
	case file != "":
		p, err = pipeline.LoadFile(ctx, g.abs(file), pipeline.Options{})
	default:
		r, oerr := g.openRepo(g.gitDir, g.io.Getenv("GIT_DIR"))
		if oerr != nil {
			return oerr
		}
		if wt := workTree(r); wt != "" && rev == "" {
			// In a clone, the file being edited is the one to check.
			path := filepath.Join(wt, filepath.FromSlash(pipelineFile))
			if _, serr := os.Stat(path); serr != nil {
				return usageErr("no %s in the working copy %s; create it, or give a revision such as HEAD to check a commit", pipelineFile, wt)
			}
			fmt.Fprintf(g.io.Stderr, "quire-hook: note: checking the working copy's %s, uncommitted changes included; give a revision such as HEAD to check a commit\n", path)
			p, err = pipeline.LoadFile(ctx, path, pipeline.Options{})
			break
		}
		if rev == "" {
			rev = "HEAD"
		}
		commit, _, rerr := r.Resolve(rev)
		if rerr != nil {
			return usageErr("%v", rerr)
		}
		has, herr := r.HasFile(commit, pipelineFile)
		if herr != nil {
			return usageErr("%v", herr)
		}
		if !has {
			return usageErr("no %s at %s (%s)", pipelineFile, rev, gitrepo.ShortSHA(commit.String()))
		}
		src, terr := r.TreeFS(commit)
		if terr != nil {
			return usageErr("%v", terr)
		}
		p, err = pipeline.Load(ctx, src, pipeline.Options{})
	}
	return g.printValidated(p, err)
}

// workTree returns the working copy of a non-bare repository (the .git
// directory of a clone, or one with core.worktree), or "" for a bare one.
func workTree(r *gitrepo.Repo) string {
	if strings.EqualFold(r.ConfigValue("core", "bare"), "true") {
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

// printValidated prints a loaded pipeline's jobs in run order, or every
// problem of a pipeline that did not load.
func (g *globals) printValidated(p *pipeline.Pipeline, err error) error {
	var le *luavm.LoadError
	if errors.As(err, &le) {
		for _, pr := range le.Problems {
			fmt.Fprintln(g.io.Stdout, pr.String())
		}
		return &exitError{code: ExitFailed, err: fmt.Errorf("pipeline has %d problem(s)", len(le.Problems))}
	}
	if err != nil {
		return usageErr("%v", err)
	}
	defer p.Close()
	for i, j := range p.Order() {
		fmt.Fprintf(g.io.Stdout, "%d. %s <- %s\n", i+1, j.ID, strings.Join(j.Inputs, ", "))
	}
	if p.Image != "" {
		fmt.Fprintf(g.io.Stdout, "image: %s\n", p.Image)
	}
	return nil
}
