// Package benchdir gives benchmarks a scratch directory where file
// creation is cheap.
package benchdir

import (
	"os"
	"testing"
)

// Dir returns a fresh directory in $QUIRE_BENCH_DIR, else in tmpfs at
// /dev/shm when there is one, else a temporary directory; it is removed
// when the benchmark ends. On some virtual disks creating a file costs
// ~0.8 ms of kernel time (14 us in tmpfs), which drowns out what a
// benchmark compares; scripts/bench.sh reports both where it matters.
func Dir(b *testing.B) string {
	base := os.Getenv("QUIRE_BENCH_DIR")
	if base == "" {
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			base = "/dev/shm"
		}
	}
	if base == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(base, "quire-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
