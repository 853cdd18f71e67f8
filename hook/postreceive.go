package hook

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/push"
)

func postReceiveCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "post-receive",
		Usage:     "what git runs after a push: run the pipeline of every updated ref",
		UsageText: "quire-hook post-receive < '<old-sha> <new-sha> <ref>' lines (git's hook input)",
		Description: "Reads git's post-receive input, and for every ref that was not deleted runs\n" +
			"the pipeline (.quire/ci.lua) of its new commit, in input order. Install it with\n" +
			"'quire-hook install'. To run a pipeline by hand, use 'quire-hook replay <rev>'.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "async", Usage: "queue the runs and return at once; a background process runs them (also: git config quire.async=true)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("post-receive takes no arguments, it reads ref updates on stdin")
			}
			return g.postReceive(c)
		},
	}
}

// postReceive runs one run per updated ref. Bad lines and unknown
// commits are reported and skipped; they never stop the other refs.
func (g *globals) postReceive(c *cli.Context) error {
	ctx := c.Context
	if f, ok := g.io.Stdin.(*os.File); ok && isTerminal(f) {
		return usageErr("post-receive is run by git, not by hand (stdin is a terminal); to run a pipeline yourself use 'quire-hook replay <rev>'")
	}
	r, err := g.openRepo(g.io.Getenv("GIT_DIR"), g.gitDir)
	if err != nil {
		return err
	}
	updates, bad, err := push.Parse(g.io.Stdin)
	if err != nil {
		return usageErr("%v", err)
	}
	prog := g.progress(r)
	for _, b := range bad {
		prog.Failf("skipping %v", b)
	}
	opts := pushOptions(g.io)
	if o := skipOption(opts); o != "" {
		prog.Infof("push option %s: no run for this push", o)
		return nil
	}

	rn, closeStore, err := g.openRunner(ctx, r)
	if err != nil {
		return err
	}
	defer closeStore()
	repoName := g.repoName(r)
	pusher := g.pusher()

	var reqs []request
	badInput := len(bad) > 0
	for _, u := range updates {
		if u.Deleted() {
			prog.Infof("%s deleted: nothing to run", u.Ref)
			continue
		}
		commit, err := r.Peel(plumbing.NewHash(u.New))
		if err != nil {
			prog.Failf("skipping %s: %s is not a commit (or annotated tag) in %s: %v", u.Ref, short(u.New), r.GitDir, err)
			badInput = true
			continue
		}
		if c, err := r.Commit(commit); err == nil {
			if m := skipMarker(c.Message); m != "" {
				prog.Infof("%s: commit %s says %s: no run for this ref", u.Ref, short(commit.String()), m)
				continue
			}
		}
		reqs = append(reqs, request{commit: commit, ref: u.Ref, previous: u.Old, trigger: "push", options: opts, pusher: pusher})
	}

	failed := false
	var internal error
	if asyncWanted(c, r) {
		if err := g.startAsync(ctx, r, rn, repoName, reqs); err != nil {
			return err
		}
	} else {
		for _, req := range reqs {
			if ctx.Err() != nil {
				break
			}
			res, ran, err := g.launch(ctx, r, rn, repoName, req)
			if err != nil {
				// The other refs still get their runs.
				prog.Failf("run of %s: %v", req.ref, err)
				internal = err
				continue
			}
			if ran && res.State == "failed" {
				failed = true
			}
		}
	}
	switch {
	case internal != nil:
		return &exitError{code: ExitError, err: fmt.Errorf("a run could not be recorded (see above): %w", internal)}
	case badInput:
		return usageErr("some ref updates were skipped (see above)")
	case failed:
		return errRunFailed
	}
	return nil
}

// pushOptions reads the `git push -o` options git passes to the hook.
func pushOptions(o IO) []string {
	n, err := strconv.Atoi(o.Getenv("GIT_PUSH_OPTION_COUNT"))
	if err != nil || n <= 0 {
		return nil
	}
	opts := make([]string, 0, n)
	for i := range n {
		opts = append(opts, o.Getenv("GIT_PUSH_OPTION_"+strconv.Itoa(i)))
	}
	return opts
}

// skipOption returns the push option that asks for no run, "ci.skip" or
// "ci.skip=<anything>", or "".
func skipOption(opts []string) string {
	for _, o := range opts {
		if o == "ci.skip" || strings.HasPrefix(o, "ci.skip=") {
			return o
		}
	}
	return ""
}

// skipMarkers are what a commit message says to skip its run, as on
// GitHub and GitLab; they match in any case.
var skipMarkers = []string{"[skip ci]", "[ci skip]"}

// skipMarker returns the first skip marker in a commit message as it is
// written there, or "".
func skipMarker(message string) string {
	for i := 0; i < len(message); i++ {
		if message[i] != '[' {
			continue
		}
		for _, m := range skipMarkers {
			if len(message)-i >= len(m) && strings.EqualFold(message[i:i+len(m)], m) {
				return message[i : i+len(m)]
			}
		}
	}
	return ""
}

// pusherVars name the pushing user in the hook's environment, as GitLab
// (gitlab-shell), Gitea and HTTP servers (git http-backend) set them.
var pusherVars = []string{"GL_USERNAME", "GITEA_PUSHER_NAME", "REMOTE_USER"}

// pusher names who pushed, for runs.pusher: the git server's name for
// the user, else the OS user the hook runs as (ssh pushes as yourself).
func (g *globals) pusher() string {
	for _, name := range pusherVars {
		if v := strings.TrimSpace(g.io.Getenv(name)); v != "" {
			return v
		}
	}
	return currentUser()
}

// isTerminal reports whether f is a terminal (TCGETS succeeds).
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
