package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// killAllScript kills every process of the caller's uid in the
// container but itself, again until none is left alive or a bound.
// kill -1 never reaches pid 1 nor the caller, and the init and keeper
// run as another uid. Its status cannot say whether any was killed
// (it succeeds when it only met processes it may not signal), so the
// script counts survivors in /proc, with builtins only: a fork would be
// one more process of the uid.
const killAllScript = `U=
while read -r k v _; do [ "$k" = Uid: ] && U=$v && break; done </proc/$$/status
n=0
while :; do
  kill -9 -1 2>/dev/null
  left=
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    { [ "$p" = 1 ] || [ "$p" = $$ ]; } && continue
    s= u=
    { while read -r k v _; do
        case $k in State:) s=$v ;; Uid:) u=$v; break ;; esac
      done; } 2>/dev/null <$d/status
    [ "$u" = "$U" ] && [ "$s" != Z ] && left=$p
  done
  [ -z "$left" ] && exit 0
  n=$((n+1))
  [ $n -lt 100 ] || { echo "process $left survives kill -9"; exit 1; }
  sleep 0.05 2>/dev/null || sleep 1
done`

// killExec kills exec id's process group. When the engine runs on this
// host, the exec's pid (the engine's, which is this host's) is in the
// container's cgroup and its group is killed from here; otherwise every
// process of the job in the container is killed, as at the job's end.
func (j *Job) killExec(ctx context.Context, id string) {
	if st, err := j.s.cli.InspectExec(ctx, id); err == nil && st.Pid > 0 && j.s.inContainer(st.Pid) {
		if syscall.Kill(-st.Pid, syscall.SIGKILL) == nil {
			return
		}
	}
	j.s.killAll(ctx)
}

// inContainer reports whether host pid is a process of the session's
// container, by its cgroup.
func (s *Session) inContainer(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	return err == nil && bytes.Contains(b, []byte(s.id))
}

// killAll kills every process of the jobs' uid in the container and
// returns once none is left. When the kill cannot be exec'd (a job used
// up the pids limit, so the engine cannot start one more process) and
// the engine runs on this host, the processes are killed from here.
func (s *Session) killAll(ctx context.Context) error {
	var out bytes.Buffer
	code, err := s.run(ctx, []string{"sh", "-c", killAllScript}, &out)
	if err == nil && code == 0 {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("exit %d: %s", code, strings.TrimSpace(out.String()))
	}
	if visible, lerr := s.killLocal(); visible {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("kill what the job left in container %s: %w", s.name, err)
	}
	return nil
}

// killLocal kills, from this host, every process of the container that
// runs as the hook's uid (the jobs' uid on the host, rootless engines
// included), again until none is left or a bound, and reports whether
// the container's processes are visible here at all: they are when the
// engine runs on this host. The init and the keeper run as another uid.
func (s *Session) killLocal() (visible bool, err error) {
	uid := strconv.Itoa(os.Getuid())
	for range 100 {
		left := 0
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || !s.inContainer(pid) {
				continue
			}
			visible = true
			if state, real := procStatus(pid); real == uid && state != "Z" {
				syscall.Kill(pid, syscall.SIGKILL)
				left++
			}
		}
		if left == 0 {
			return visible, nil
		}
		time.Sleep(pollEvery / 10)
	}
	return visible, errors.New("its processes survive kill -9")
}

// procStatus returns the state and the real uid of host pid, "" when
// it is gone.
func procStatus(pid int) (state, uid string) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "", ""
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch {
		case k == "State" && len(f) > 0:
			state = f[0]
		case k == "Uid" && len(f) > 0:
			return state, f[0]
		}
	}
	return state, ""
}
