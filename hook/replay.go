package hook

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/push"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func replayCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "replay",
		Usage:     "run the pipeline of a commit again, by hand",
		ArgsUsage: "<rev>",
		Description: "<rev> is a full or abbreviated sha, a branch or tag name, or a full ref name.\n" +
			"The repository is --git-dir, else $GIT_DIR, else the current directory (a bare\n" +
			"repository or a work tree's .git). The run is recorded with trigger 'replay'.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ref", Usage: "the ref to record: a full ref name, or a branch name for refs/heads/<name> (default: the ref <rev> named, else the first branch at that commit, else the sha)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := g.trailingFlags(c, "ref=")
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return usageErr("replay takes exactly one <rev>, e.g. 'quire-hook replay main'")
			}
			ref := ""
			if c.IsSet("ref") {
				if ref, err = replayRef(c.String("ref")); err != nil {
					return err
				}
			}
			return g.replay(c, args[0], ref)
		},
	}
}

// replayRef turns the value of --ref into the full ref name to record: a
// name outside refs/ is a branch. It refuses what post-receive would.
func replayRef(name string) (string, error) {
	ref := name
	if name != "" && !strings.HasPrefix(name, "refs/") {
		ref = "refs/heads/" + name
	}
	if err := push.CheckRef(ref); err != nil {
		return "", fmt.Errorf("bad --ref: %w; give a branch name such as main, or a full ref name such as refs/heads/main or refs/tags/v1", err)
	}
	return ref, nil
}

func (g *globals) replay(c *cli.Context, rev, refFlag string) error {
	ctx := c.Context
	r, err := g.openRepo(g.gitDir, g.io.Getenv("GIT_DIR"))
	if err != nil {
		return err
	}
	commit, named, err := r.Resolve(rev)
	if err != nil {
		return err
	}
	ref := refFlag
	if ref == "" {
		ref = named
	}
	if ref == "" {
		ref = r.BranchAt(commit)
	}
	if ref == "" {
		ref = commit.String()
		g.progress(r).Failf("warning: %s is no branch's tip, so the run is recorded under ref %s and push.branch is nil; "+
			"pass --ref <branch> (e.g. --ref main) to run it as that branch", gitrepo.ShortSHA(ref), gitrepo.ShortSHA(ref))
	}

	rn, closeStore, err := g.openRunner(ctx, r)
	if err != nil {
		return err
	}
	defer closeStore()
	res, ran, err := g.launch(ctx, r, rn, g.repoName(r), runner.Request{Commit: commit, Ref: ref, Trigger: "replay", Pusher: g.pusher()})
	if err != nil {
		return err
	}
	if ran && res.State == store.RunFailed {
		return errRunFailed
	}
	return nil
}
