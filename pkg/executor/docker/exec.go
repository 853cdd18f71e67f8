package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/dockerapi"
	"github.com/quire-ci/quire-hook/pkg/executor"
)

// pollEvery is how often a running exec's state is asked for, to learn
// when its process exited while something it left holds its output.
const pollEvery = 100 * time.Millisecond

// Job is one job's scope in the run's container. It implements
// executor.Job.
type Job struct {
	s *Session
}

// Exec implements executor.Job: p runs as an exec in the container,
// with its environment in the API request and its output demultiplexed
// into p.Stdout and p.Stderr as it arrives.
func (j *Job) Exec(ctx context.Context, p executor.Proc) (executor.Result, error) {
	cli := j.s.cli
	if err := noNUL(p); err != nil {
		return executor.Result{Exit: 127, StartErr: fmt.Errorf("start %s in the container: %w", p.Argv[0], err)}, nil
	}
	argv, wrapped := p.Argv, !hasHome(p.Env)
	if wrapped {
		argv = unsetHome(argv, p.Env)
	}
	id, err := cli.CreateExec(ctx, j.s.id, dockerapi.ExecConfig{
		Cmd: argv, Env: execEnv(p.Env, j.s.imageEnv), WorkingDir: p.Dir, User: j.s.user,
		AttachStdin: p.Stdin != "", AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return executor.Result{}, execErr(ctx, err)
	}
	stream, err := cli.StartExec(ctx, id)
	if err != nil {
		return executor.Result{}, execErr(ctx, err)
	}
	defer stream.Close()
	if p.Stdin != "" {
		go func() {
			io.WriteString(stream, p.Stdin)
			stream.CloseWrite()
		}()
	}
	// The engine's own complaints (the program is not there) arrive on
	// the output stream too: keep the start of stderr to tell them apart.
	outHead := &headWriter{w: p.Stdout, max: 512}
	errHead := &headWriter{w: p.Stderr, max: 512}
	done := make(chan error, 1)
	go func() { done <- stream.Demux(outHead, errHead) }()

	// Wait for the output to end, killing on timeout or ctx, and closing
	// the stream PipeGrace after the process exited if a background
	// child still holds it.
	bg := context.WithoutCancel(ctx)
	var res executor.Result
	var cause error
	var timeout, grace <-chan time.Time
	if p.Timeout > 0 {
		t := time.NewTimer(p.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	ctxDone := ctx.Done()
	exited, closed := false, false
	var streamErr error
wait:
	for {
		select {
		case streamErr = <-done:
			break wait
		case <-timeout:
			res.TimedOut = true
			timeout = nil
			j.killExec(bg, id)
			grace = afterKill(grace)
		case <-ctxDone:
			cause = context.Cause(ctx)
			ctxDone = nil
			j.killExec(bg, id)
			grace = afterKill(grace)
		case <-tick.C:
			if exited {
				continue
			}
			st, err := cli.InspectExec(bg, id)
			if err == nil && !st.Running {
				exited = true
				grace = time.After(executor.PipeGrace)
			}
		case <-grace:
			closed = true
			stream.Close()
		}
	}
	if streamErr != nil && !closed && cause == nil && !res.TimedOut {
		j.killExec(bg, id) // its output has nowhere to go
		return res, fmt.Errorf("docker executor: %w", streamErr)
	}

	// The exit status: the engine reports it once the process is reaped.
	st, err := j.waitExec(bg, id)
	if err != nil {
		return res, err
	}
	res.Exit = exitCode(st.ExitCode)
	if res.Exit == -int(syscall.SIGKILL) && !res.TimedOut && cause == nil {
		if err := j.s.killedWithContainer(bg); err != nil {
			return res, fmt.Errorf("docker executor: %w", err)
		}
	}
	if msg := startFailure(st.ExitCode, wrapped, outHead.head, errHead.head); msg != "" {
		res.Exit = 127
		res.StartErr = fmt.Errorf("start %s in the container: %s", p.Argv[0], msg)
	}
	return res, cause
}

// killedWithContainer tells an exec killed by the container's end
// (someone removed or stopped it) from one killed in a container that
// lives on (the OOM killer, the job itself): it returns why the
// container ended, or nil when it still runs PipeGrace later.
func (s *Session) killedWithContainer(ctx context.Context) error {
	for range executor.PipeGrace / pollEvery {
		if err := s.running(ctx); err != nil {
			return err
		}
		time.Sleep(pollEvery)
	}
	return nil
}

// afterKill is the pipe grace once an exec was killed: its process is
// dead, and its stream ends at the latest PipeGrace later, also when
// the engine no longer answers (a frozen engine would hold it open).
func afterKill(grace <-chan time.Time) <-chan time.Time {
	if grace != nil {
		return grace
	}
	return time.After(executor.PipeGrace)
}

// noNUL refuses what no process can be given, a NUL byte in an argument
// or the environment, before the engine does: its runtime's message
// repeats the variable, value (a secret) included, escaped so that
// redaction may no longer recognise it. The message names neither.
func noNUL(p executor.Proc) error {
	for _, kv := range p.Env {
		if strings.Contains(kv, "\x00") {
			return errors.New("an environment variable holds a NUL byte")
		}
	}
	for i, a := range p.Argv {
		if strings.Contains(a, "\x00") {
			return fmt.Errorf("argument %d holds a NUL byte", i)
		}
	}
	return nil
}

// execErr is an Exec fault: the cause of ctx when it ended, else err.
func execErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("docker executor: %w", err)
}

// startFailure returns the message of an exec whose program could not
// start, "" for one that ran: the runtime says so on the output stream
// with exit 126 or 127, or the shell of unsetHome does on stderr with
// 126 or 127.
func startFailure(code int, wrapped bool, stdout, stderr []byte) string {
	if code != 126 && code != 127 {
		return ""
	}
	for _, h := range [][]byte{stdout, stderr} {
		if bytes.HasPrefix(h, []byte("OCI runtime exec failed")) {
			return strings.TrimSpace(string(h))
		}
	}
	if wrapped && bytes.HasPrefix(stderr, []byte("sh: ")) && len(stdout) == 0 {
		return strings.TrimSpace(string(stderr))
	}
	return ""
}

// exitCode turns an exec's exit code into an sh call's: the engine
// reports a death by signal N as 128+N, as a shell does, and so it reads
// -N. (A process that exits 128+N by itself reads -N too: the engine
// does not tell the two apart.)
func exitCode(code int) int {
	if code > 128 && code <= 128+64 {
		return -(code - 128)
	}
	return code
}

// waitExec returns the state of an exec whose streams ended, once the
// engine has its exit status.
func (j *Job) waitExec(ctx context.Context, id string) (dockerapi.ExecState, error) {
	deadline := time.Now().Add(closeTimeout)
	for {
		st, err := j.s.cli.InspectExec(ctx, id)
		if err != nil {
			return st, fmt.Errorf("docker executor: %w", err)
		}
		if !st.Running {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("docker executor: exec %s still runs %s after it was killed; the engine may be stuck", id, closeTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// Close implements executor.Job: whatever the job left running in the
// container is killed.
func (j *Job) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return j.s.killAll(ctx)
}

// run runs argv in the container as the jobs' user and returns its exit
// code, its output in out.
func (s *Session) run(ctx context.Context, argv []string, out io.Writer) (int, error) {
	id, err := s.cli.CreateExec(ctx, s.id, dockerapi.ExecConfig{
		Cmd: argv, User: s.user, AttachStdout: true, AttachStderr: true,
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	if err != nil {
		return 0, err
	}
	stream, err := s.cli.StartExec(ctx, id)
	if err != nil {
		return 0, err
	}
	defer stream.Close()
	stop := context.AfterFunc(ctx, func() { stream.Close() })
	defer stop()
	if err := stream.Demux(out, out); err != nil && ctx.Err() == nil {
		return 0, err
	}
	for {
		st, err := s.cli.InspectExec(ctx, id)
		if err != nil {
			return 0, err
		}
		if !st.Running {
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, errors.New("gave up waiting for it")
		case <-time.After(pollEvery):
		}
	}
}

// headWriter passes writes on and keeps their first max bytes.
type headWriter struct {
	w    io.Writer
	head []byte
	max  int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if n := h.max - len(h.head); n > 0 {
		h.head = append(h.head, p[:min(n, len(p))]...)
	}
	return h.w.Write(p)
}
