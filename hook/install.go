package hook

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/install"
)

func installCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "make a bare repository run quire-hook on every push",
		Description: "Writes hooks/post-receive of the repository (--git-dir, else the current\n" +
			"directory) as a small script that execs this binary, and sets\n" +
			"receive.advertisePushOptions=true so that 'git push -o ci.skip' works.\n" +
			"An existing hook that quire-hook did not write is kept unless --chain or --force:\n" +
			"both move it to hooks/post-receive.before-quire; with --chain it still runs on\n" +
			"every push, first, with the same input (its failure is reported and CI runs\n" +
			"anyway); with --force it no longer runs. A plain reinstall keeps chaining.\n" +
			"Install a binary every user can run, such as /usr/local/bin/quire-hook: git runs\n" +
			"the hook as the user who owns the repository. Installing into a clone warns:\n" +
			"the hook runs in the repository pushed to, usually the server's bare one.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "chain", Usage: "keep a post-receive hook quire-hook did not write and run it first on every push"},
			&cli.BoolFlag{Name: "force", Usage: "replace a post-receive hook quire-hook did not write (kept unused as post-receive.before-quire)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("install takes no arguments; name the repository with --git-dir")
			}
			mode := install.Keep
			switch {
			case c.Bool("chain") && c.Bool("force"):
				return usageErr("give --chain (keep running the existing hook) or --force (replace it), not both")
			case c.Bool("chain"):
				mode = install.Chain
			case c.Bool("force"):
				mode = install.Replace
			}
			r, err := g.openRepo(g.gitDir)
			if err != nil {
				return err
			}
			if wt := workTree(r); wt != "" {
				// git runs post-receive in the repository that receives
				// the push. A clone can be one (a branch not checked
				// out, receive.denyCurrentBranch), but an operator who
				// meant the server's bare repository must hear of it.
				fmt.Fprintf(g.io.Stderr, "quire-hook: warning: %s is a clone; git runs post-receive in the repository pushed to, so this hook runs only on pushes to this clone; for CI on a server, install into its bare repository with --git-dir\n", wt)
			}
			bin, err := g.io.executable()
			if err != nil {
				return err
			}
			if why := install.CheckBinary(bin, r.GitDir); why != "" {
				fmt.Fprintf(g.io.Stderr, "quire-hook: warning: %s\n", why)
			}
			res, err := install.Hook(r, bin, mode)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(g.io.Stderr, "quire-hook: warning: %s\n", w)
			}
			switch {
			case res.Chained != "":
				fmt.Fprintf(g.io.Stdout, "installed %s; it runs %s first\n", res.Path, res.Chained)
			case mode == install.Chain:
				fmt.Fprintf(g.io.Stdout, "installed %s; there was no other post-receive hook to chain\n", res.Path)
			default:
				fmt.Fprintf(g.io.Stdout, "installed %s\n", res.Path)
			}
			return nil
		},
	}
}
