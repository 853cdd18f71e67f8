package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/executor"
)

// readChunk is the size of one read from an output pipe.
const readChunk = 64 * 1024

// errCallTimeout marks the end of an sh call's own timeout, as opposed
// to the job's or the run's.
var errCallTimeout = errors.New("sh call timed out")

// run starts p in its own process group (in the job's cgroup if it has
// one), streams its output, and waits for it. It returns an error only
// when ctx ended before the process did (the process group is killed
// first). The process gets files as descriptors 3 and on.
func run(ctx context.Context, p executor.Proc, j *Job, files []*os.File) (executor.Result, error) {
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, p.Timeout, errCallTimeout)
		defer cancel()
	}
	// The program is looked up in the PATH the process will have, which
	// opts.env may have changed, not in the hook's own.
	cmd := exec.Command(lookPath(p.Argv[0], p.Env), p.Argv[1:]...)
	cmd.Args[0] = p.Argv[0]
	cmd.Dir = p.Dir
	cmd.Env = p.Env
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cg := j.jobCgroup(); cg != nil {
		cg.SysProcAttr(cmd.SysProcAttr)
	}
	if p.Stdin == "" {
		// One /dev/null for every call, rather than exec opening its own.
		if f, err := devNull(); err == nil {
			cmd.Stdin = f
		}
	} else {
		cmd.Stdin = strings.NewReader(p.Stdin)
		// exec copies stdin from a goroutine that Wait waits for; a
		// background child holding the pipe without reading it must not
		// hold the call open either.
		cmd.WaitDelay = executor.PipeGrace
	}

	outR, outW, err := outputPipe()
	if err != nil {
		return executor.Result{}, fmt.Errorf("create stdout pipe: %w", err)
	}
	errR, errW, err := outputPipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return executor.Result{}, fmt.Errorf("create stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	startErr := cmd.Start()
	outW.Close()
	errW.Close()
	if startErr != nil {
		outR.Close()
		errR.Close()
		return executor.Result{Exit: 127, StartErr: startErr}, nil
	}
	pgid := cmd.Process.Pid

	var wg sync.WaitGroup
	wg.Add(2)
	go pump(&wg, outR, p.Stdout)
	go pump(&wg, errR, p.Stderr)

	// Kill the whole group when the call times out or the job ends.
	// context.AfterFunc starts no goroutine unless ctx ends.
	killed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = syscallKillGroup(pgid)
		close(killed)
	})
	// Wait's error says the same as the ProcessState read below (or that
	// WaitDelay cut a stdin copy short), so only the state is used.
	_ = cmd.Wait()
	if !stop() {
		// The kill has started, and may be what ended the process:
		// let it finish before killed is read.
		<-killed
	}

	// Give the pipes a moment to drain, then cut them: a background
	// child that inherited them must not hold the call open.
	cut := time.AfterFunc(executor.PipeGrace, func() {
		_ = outR.SetReadDeadline(time.Now())
		_ = errR.SetReadDeadline(time.Now())
	})
	wg.Wait()
	cut.Stop()
	outR.Close()
	errR.Close()

	// A group that still has members (children left in the background)
	// is killed when the job ends; an empty one is forgotten, so that a
	// later group reusing its id is never touched.
	if syscall.Kill(-pgid, 0) == nil {
		j.addGroup(pgid)
	}

	res := executor.Result{Exit: exitStatus(cmd.ProcessState)}
	select {
	case <-killed:
		if errors.Is(context.Cause(ctx), errCallTimeout) {
			res.TimedOut = true
			return res, nil
		}
		return res, context.Cause(ctx)
	default:
	}
	return res, nil
}

// devNull is /dev/null opened for reading, once per process: the
// standard input of every call without Proc.Stdin. exec.Cmd opens (and
// closes) one per call otherwise.
var devNull = sync.OnceValues(func() (*os.File, error) {
	return os.Open(os.DevNull)
})

// outputPipe is os.Pipe made for a child's output: the read end is
// non-blocking and in the runtime's poller (for read deadlines), the
// write end is a plain blocking descriptor that only the child uses.
// os.Pipe puts both ends in the poller, and exec then makes the write end
// blocking again, 8 system calls more per call for both pipes.
func outputPipe() (r, w *os.File, err error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(fds[0]), "|0"), os.NewFile(uintptr(fds[1]), "|1"), nil
}

// pump copies a pipe to w in readChunk pieces; each Write is one read,
// so the log's timestamps are the times the bytes arrived. A write
// error (disk full) stops the copy to w but the pipe is still drained so
// the process is not blocked.
func pump(wg *sync.WaitGroup, r *os.File, w io.Writer) {
	defer wg.Done()
	buf := make([]byte, readChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 && w != nil {
			if _, werr := w.Write(buf[:n]); werr != nil {
				w = nil
			}
		}
		if err != nil {
			return
		}
	}
}

// exitStatus is the exit status, or -N for a process killed by signal N.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return 127
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return ps.ExitCode()
}

// lookPath finds name in the PATH of env (the last PATH wins, as it does
// for the process); a name with a slash, or one not found, is returned
// as it is and exec reports it.
func lookPath(name string, env []string) string {
	if strings.Contains(name, "/") {
		return name
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // relative PATH entries are a trap; skip them
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}
