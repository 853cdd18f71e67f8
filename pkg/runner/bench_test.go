package runner

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/internal/benchdir"
	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/pkg/executor/host"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// benchRun prepares a pushed pipeline once and returns a function that
// runs it, failing the benchmark unless the run completes.
func benchRun(b *testing.B, pipeline string) func() {
	b.Helper()
	f := gittest.New(b)
	f.Pipeline(ciHeader + pipeline)
	sha := f.Commit("bench")
	if out, err := f.Push("--quiet", "origin", "main"); err != nil {
		b.Fatal(out)
	}
	dataRoot := benchdir.Dir(b)
	s, err := store.Open(context.Background(), filepath.Join(dataRoot, "quire.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	repo, err := gitrepo.Open(f.Bare)
	if err != nil {
		b.Fatal(err)
	}
	var src fs.FS
	if src, err = repo.TreeFS(plumbing.NewHash(sha)); err != nil {
		b.Fatal(err)
	}
	// The hook's executor: a cgroup per run and job where one can be made.
	r := &Runner{Store: s, DataRoot: dataRoot, GitDir: f.Bare, Env: os.Environ(), Progress: NewProgress(nil, true, false), Executor: &host.Executor{}}
	return func() {
		res, err := r.Run(context.Background(), Push{Repo: "bench.git", Ref: "refs/heads/main", SHA: sha, Trigger: "replay", PushedAt: time.Now()}, src)
		if err != nil || res.State != "complete" {
			b.Fatalf("run: %v %+v", err, res)
		}
		os.RemoveAll(res.RunDir)
	}
}

// BenchmarkShCalls is SPEC 12's P3: 1,000 q.sh({"true"}) calls in one
// job, against spawning true 1,000 times from Go directly. The
// difference divided by 1,000 is the per-call cost of q.sh (log file,
// sh_events row, process group, pipes), target <= 1 ms.
//
// cpu-µs/call is the CPU time (user and system, of the benchmark and of
// the children it waited for) per call: on a machine shared with other
// work it moves much less than the wall time does.
func BenchmarkShCalls(b *testing.B) {
	const calls = 1000
	b.Run("exec-true", func(b *testing.B) {
		cpu0 := cpuTime()
		for b.Loop() {
			for range calls {
				if err := exec.Command("true").Run(); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportPerCall(b, calls, cpuTime()-cpu0)
	})
	b.Run("q.sh-true", func(b *testing.B) {
		run := benchRun(b, `ci.job("many", {"quire/push"}, function(q)
  for i = 1, 1000 do q.sh({"true"}) end
end)`)
		cpu0 := cpuTime()
		for b.Loop() {
			run()
		}
		reportPerCall(b, calls, cpuTime()-cpu0)
	})
}

// reportPerCall reports the wall and CPU time of one call.
func reportPerCall(b *testing.B, calls int, cpu time.Duration) {
	n := float64(b.N * calls)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/n, "µs/call")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/call")
}

// cpuTime is the user and system time of this process and of its
// children that were waited for.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// BenchmarkShOutput streams 256 MiB of 72-byte lines through one sh
// call into its CRI log, against the same command writing to a file
// (P4 in miniature; scripts/bench.sh P4 does the full GiB with RSS).
func BenchmarkShOutput(b *testing.B) {
	const gen = `yes "the quick brown fox jumps over the lazy dog, again and again and again" | head -c 268435456`
	b.Run("sh-to-file", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "out")
		for b.Loop() {
			if err := exec.Command("sh", "-c", gen+" > "+out).Run(); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(256 << 20)
	})
	b.Run("q.sh", func(b *testing.B) {
		run := benchRun(b, `ci.job("flood", {"quire/push"}, function(q) q.sh('`+gen+`') end)`)
		for b.Loop() {
			run()
		}
		b.SetBytes(256 << 20)
	})
}
