// Command machinecost measures what the machine charges for the
// primitives quire-hook's benchmarks are made of, so that a figure in
// docs/PERFORMANCE.md can be split into the machine's part and ours:
//
//	machinecost            print all of them
//	machinecost noop       exit at once: time it to get the start-up of a
//	                       small Go binary (scripts/bench.sh M does)
//
// Each figure is a median of several rounds. It is not a test.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "noop" {
		return
	}
	fmt.Printf("system call (getppid):          %8.3f µs\n", median(7, syscallCost))
	fmt.Printf("page fault (first touch, anon): %8.3f µs\n", median(7, faultCost))
	fmt.Printf("fork+exec+wait of true, from Go: %7.3f ms\n", median(7, spawnCost)*1e-3)
	fmt.Printf("start of this Go binary:        %8.3f ms\n", median(7, goStartCost)*1e-3)
}

// median runs f rounds times and returns the median of its results.
func median(rounds int, f func() float64) float64 {
	v := make([]float64, rounds)
	for i := range v {
		v[i] = f()
	}
	slices.Sort(v)
	return v[rounds/2]
}

// syscallCost is the time of one cheap system call, in µs: the entry and
// exit every read, write, stat and open pays.
func syscallCost() float64 {
	const n = 200_000
	t := time.Now()
	for range n {
		syscall.Getppid()
	}
	return float64(time.Since(t).Nanoseconds()) / n / 1e3
}

// faultCost is the time of one minor page fault on fresh anonymous
// memory, in µs: what a new process pays for each page of heap, stack and
// data it touches.
func faultCost() float64 {
	const pages = 4096
	size := pages * os.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "machinecost: mmap:", err)
		os.Exit(1)
	}
	defer syscall.Munmap(mem)
	t := time.Now()
	for i := 0; i < size; i += os.Getpagesize() {
		mem[i] = 1
	}
	return float64(time.Since(t).Nanoseconds()) / pages / 1e3
}

// spawnCost is one exec.Command("true").Run(), in µs.
func spawnCost() float64 {
	return timeRun(exec.Command("true"))
}

// goStartCost is one run of this binary doing nothing, in µs.
func goStartCost() float64 {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "machinecost:", err)
		os.Exit(1)
	}
	return timeRun(exec.Command(self, "noop"))
}

// timeRun is the wall time of running cmd, in µs.
func timeRun(cmd *exec.Cmd) float64 {
	t := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "machinecost:", err)
		os.Exit(1)
	}
	return float64(time.Since(t).Nanoseconds()) / 1e3
}
