package runner

import (
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/pipeline"
)

// Request is one run to launch: a commit and what is known of how it
// came (post-receive, replay, or the async worker taking a queued run).
type Request struct {
	Commit   plumbing.Hash
	Ref      string
	Previous string // "" or the zero sha for a new ref
	Trigger  string // push or replay
	Options  []string
	PushedAt time.Time // zero: now
	Pusher   string    // runs.pusher; "" is NULL
}

// Prepare reads from the repository what a run of req needs: the
// quire/push source and the commit's tree. ok is false when the commit
// has no pipeline, which prog is told.
func Prepare(r *gitrepo.Repo, prog *Progress, repoName string, req Request) (p Push, src fs.FS, ok bool, err error) {
	has, err := r.HasFile(req.Commit, pipeline.File)
	if err != nil {
		return p, nil, false, err
	}
	if !has {
		prog.Infof("no %s at %s (%s): nothing to run", pipeline.File, gitrepo.ShortSHA(req.Commit.String()), req.Ref)
		return p, nil, false, nil
	}
	c, err := r.Commit(req.Commit)
	if err != nil {
		return p, nil, false, err
	}
	prev := plumbing.ZeroHash
	if req.Previous != "" {
		prev = plumbing.NewHash(req.Previous)
	}
	changed, err := r.FilesChanged(req.Commit, prev)
	if err != nil {
		return p, nil, false, err
	}
	if src, err = r.TreeFS(req.Commit); err != nil {
		return p, nil, false, err
	}
	pushedAt := req.PushedAt
	if pushedAt.IsZero() {
		pushedAt = time.Now()
	}
	return Push{
		Repo:          repoName,
		Ref:           req.Ref,
		SHA:           req.Commit.String(),
		PreviousSHA:   req.Previous,
		Trigger:       req.Trigger,
		PushedAt:      pushedAt,
		CommitMessage: strings.TrimRight(c.Message, "\n"),
		Author:        fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		FilesChanged:  changed,
		Options:       req.Options,
		Pusher:        req.Pusher,
	}, src, true, nil
}
