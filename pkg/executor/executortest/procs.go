package executortest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sleepToken is a sleep duration no other process uses, by which the
// test finds its sleeps in /proc.
func sleepToken() string {
	return fmt.Sprintf("%d.%09d", 3000+rand.IntN(1000), rand.IntN(1_000_000_000))
}

// waitSleepers waits until a process sleeps token and returns the pids
// that do. The call that starts it (done, writing to out) must not end
// first: the test then fails at once, with the call's result.
func (f *fixture) waitSleepers(token string, done <-chan execResult, out *output) []int {
	f.t.Helper()
	deadline := time.Now().Add(bound)
	for {
		if pids := sleepers(token); len(pids) > 0 {
			return pids
		}
		select {
		case r := <-done:
			f.t.Fatalf("the call ended before sleep %s ran: %+v, %v; stderr %q", token, r.res, r.err, out.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no process runs sleep %s", token)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits until none of pids is alive, and returns those still
// alive after bound: a killed process in a sandbox's pid namespace may
// take a moment to die after the sandbox's own process did.
func (f *fixture) waitGone(pids []int) []int {
	deadline := time.Now().Add(bound)
	for {
		left := alive(pids)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sleepers lists the live processes whose argv is sleep token.
func sleepers(token string) []int {
	var out []int
	for _, pid := range pids() {
		argv := readNul(pid, "cmdline")
		if len(argv) == 2 && filepath.Base(argv[0]) == "sleep" && argv[1] == token {
			out = append(out, pid)
		}
	}
	return alive(out)
}

// alive returns those of pids that still run: neither gone nor zombies.
func alive(pids []int) []int {
	var out []int
	for _, pid := range pids {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X') {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// pids lists the processes in /proc.
func pids() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// readNul reads a NUL-separated /proc file of pid.
func readNul(pid int, name string) []string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), name))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}
