//go:build linux

package retention

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// TestDelete_MountedWorkspace: a run whose hook was killed while its
// workspace was mounted (an overlay; here a bind mount of a directory
// that must survive) is deleted by gc, and from the trash by Sweep,
// without deleting through the mount and without leaving it mounted.
func TestDelete_MountedWorkspace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot mount")
	}
	for _, viaTrash := range []bool{false, true} {
		name := "delete"
		if viaTrash {
			name = "sweep"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mounttest.Check(t, string(f.root))
			shared := filepath.Join(string(f.root), "shared")
			if err := os.MkdirAll(shared, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shared, "keep"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			id := f.addRun(1, "r", store.RunComplete, 10)
			ws := f.root.Run(id).Workspace()
			if err := os.Mkdir(ws, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mount(shared, ws, "", unix.MS_BIND, ""); err != nil {
				t.Skipf("bind mount: %v", err)
			}
			if viaTrash {
				// A gc killed right after its move to the trash.
				if err := os.MkdirAll(f.root.Trash(), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(string(f.root.Run(id)), f.root.TrashRun(id)); err != nil {
					t.Fatal(err)
				}
				if _, err := Sweep(t.Context(), f.s, f.root); err != nil {
					t.Fatal(err)
				}
			} else if _, err := Delete(t.Context(), f.s, f.root, id); err != nil {
				t.Fatal(err)
			}
			for _, dir := range []string{string(f.root.Run(id)), f.root.TrashRun(id)} {
				if _, err := os.Lstat(dir); !os.IsNotExist(err) {
					t.Errorf("%s: %v, want it gone", dir, err)
				}
			}
			if _, err := os.Stat(filepath.Join(shared, "keep")); err != nil {
				t.Errorf("deleted through the mount: %v", err)
			}
			if left := mounttest.Below(t, string(f.root)); len(left) != 0 {
				t.Errorf("mounts left: %+v", left)
			}
		})
	}
}
