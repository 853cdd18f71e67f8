package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/push"
	"github.com/quire-ci/quire-hook/pkg/runner"
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
			&cli.StringFlag{Name: "chain", Usage: "run this hook first, with the same input (written by 'install --chain'); its failure is reported and CI runs anyway"},
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
	if chained := c.String("chain"); chained != "" {
		// The other hook runs first, whatever happens to CI after it.
		input, err := io.ReadAll(g.io.Stdin)
		if err != nil {
			return usageErr("read ref updates from stdin: %v", err)
		}
		g.runChained(ctx, g.progress(nil), g.abs(chained), input)
		g.io.Stdin = bytes.NewReader(input)
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
			prog.Failf("skipping %s: %s is not a commit (or annotated tag) in %s: %v", u.Ref, gitrepo.ShortSHA(u.New), r.GitDir, err)
			badInput = true
			continue
		}
		if c, err := r.Commit(commit); err == nil {
			if m := skipMarker(c.Message); m != "" {
				prog.Infof("%s: commit %s says %s: no run for this ref", u.Ref, gitrepo.ShortSHA(commit.String()), m)
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

// chainedWait bounds how long a chained hook's output is drained after
// it exits, when it left a background process holding it open.
const chainedWait = 5 * time.Second

// runChained runs the hook that 'install --chain' kept, as git would
// have: the same input, environment and directory, its output to the
// pusher. Its failure is one line; it never stops CI.
func (g *globals) runChained(ctx context.Context, prog *runner.Progress, path string, input []byte) {
	cmd := exec.CommandContext(ctx, path)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout, cmd.Stderr = g.io.Stdout, g.io.Stderr
	cmd.Env = g.io.Env
	cmd.Dir = g.io.Dir
	cmd.WaitDelay = chainedWait
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Exited():
		prog.Failf("warning: chained hook %s exited %d; CI runs anyway", path, exit.ExitCode())
	case errors.As(err, &exit):
		prog.Failf("warning: chained hook %s ended by %v; CI runs anyway", path, exit.ProcessState)
	default:
		prog.Failf("warning: chained hook %s did not run: %v; fix it or run 'quire-hook install --force' to stop chaining it; CI runs anyway", path, err)
	}
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
