package host

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/executortest"
	"github.com/quire-ci/quire-hook/pkg/proc"
)

func TestHost_Conformance(t *testing.T) {
	// The run's cgroup finds what a job left running, where the test may
	// create one.
	t.Run("Cgroup", func(t *testing.T) {
		if !cgroupsHere(t) {
			t.Skip("needs a writable cgroup v2 hierarchy (root, or a delegated cgroup)")
		}
		executortest.Run(t, func(*testing.T) executor.Executor { return &Executor{} })
	})
	// Without one, the hook kills its own subtree. The subtests run one
	// at a time, so the test binary's children are all the executor's.
	t.Run("OwnsChildren", func(t *testing.T) {
		executortest.Run(t, func(*testing.T) executor.Executor {
			return &Executor{NoCgroup: true, OwnsChildren: true}
		})
	})
}

// cgroupsHere reports whether this process may create a cgroup v2 for a
// run, as Start does.
func cgroupsHere(t *testing.T) bool {
	path, ok := proc.CgroupPath("probe-" + strconv.Itoa(os.Getpid()))
	if !ok {
		return false
	}
	cg, err := proc.NewCgroup(path)
	if err != nil {
		return false
	}
	if _, err := cg.Remove(time.Second); err != nil {
		t.Fatal(err)
	}
	return true
}

// TestHost_Contained: a session vouches that its processes are dead only
// once Close removed the run's cgroup, never when tracking them by
// process group and marker.
func TestHost_Contained(t *testing.T) {
	for _, tc := range []struct {
		name string
		ex   *Executor
		want bool
	}{
		{"NoCgroup", &Executor{NoCgroup: true}, false},
		{"Cgroup", &Executor{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want && !cgroupsHere(t) {
				t.Skip("needs a writable cgroup v2 hierarchy (root, or a delegated cgroup)")
			}
			dir := datadir.RunDir(t.TempDir())
			if err := os.MkdirAll(dir.Workspace(), 0o755); err != nil {
				t.Fatal(err)
			}
			runID := "contained-" + strconv.Itoa(os.Getpid())
			s, err := tc.ex.Start(t.Context(), executor.RunSpec{RunID: runID, Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			j, err := s.Job(t.Context(), "j")
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			c := s.(executor.Contained)
			if c.Contained() {
				t.Error("Contained before Close = true, want false")
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := c.Contained(); got != tc.want {
				t.Errorf("Contained after Close = %v, want %v", got, tc.want)
			}
		})
	}
}
