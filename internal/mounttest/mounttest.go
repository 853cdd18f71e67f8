// Package mounttest fails a test that leaves a mount behind: a
// workspace overlay (pkg/workspace) that a killed hook or an abandoned
// run did not take off, which t.TempDir's cleanup cannot remove (EBUSY)
// and which would otherwise outlive the test in the host's mount
// namespace.
package mounttest

import (
	"testing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// Check registers a cleanup that fails tb if anything is still mounted
// at or below dir when the test ends, and detaches it so that dir can
// be removed. Call it after dir was made (by tb.TempDir), so that it
// runs before dir's own cleanup.
func Check(tb testing.TB, dir string) {
	tb.Helper()
	tb.Cleanup(func() {
		left := Below(tb, dir)
		for _, m := range left {
			tb.Errorf("%s mount left at %s (%s)", m.FSType, m.Point, m.Options)
		}
		if len(left) > 0 {
			if err := datadir.Detach(dir); err != nil {
				tb.Error(err)
			}
		}
	})
}

// Below lists the mounts at or below dir.
func Below(tb testing.TB, dir string) []datadir.Mount {
	tb.Helper()
	mounts, err := datadir.Mounts()
	if err != nil {
		tb.Fatal(err)
	}
	var below []datadir.Mount
	for _, m := range mounts {
		if m.Point == dir || len(m.Point) > len(dir) && m.Point[:len(dir)] == dir && m.Point[len(dir)] == '/' {
			below = append(below, m)
		}
	}
	return below
}
