//go:build linux

package datadir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountinfo(t *testing.T) {
	in := `26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
43 26 0:38 / /tmp/data\040root/runs/x/workspace rw,relatime - overlay overlay rw,lowerdir=/tmp/a\054b/tree,upperdir=/u,workdir=/w,uuid=on
44 26 0:39 / /tmp/empty-source rw,relatime - tmpfs  rw
garbage
` + "45 26 0:40 / /tmp/ws/a\rb rw - tmpfs tmpfs rw,nosuid\n" // a real CR: a raw string drops it
	got, err := parseMountinfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Point: "/", FSType: "ext4", Options: "rw"},
		{Point: "/tmp/data root/runs/x/workspace", FSType: "overlay", Options: "rw,lowerdir=/tmp/a,b/tree,upperdir=/u,workdir=/w,uuid=on"},
		// An empty source is an empty field (mount -t tmpfs "" X).
		{Point: "/tmp/empty-source", FSType: "tmpfs", Options: "rw"},
		// The kernel does not escape '\r': the point is not cut there.
		{Point: "/tmp/ws/a\rb", FSType: "tmpfs", Options: "rw,nosuid"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d mounts, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestRemoveDetached: a run directory whose workspace is a mount — here
// a bind mount of a directory that must survive — is removed without
// deleting through the mount, and without EBUSY.
func TestRemoveDetached(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot mount")
	}
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	run := filepath.Join(root, "runs", "r1")
	ws := RunDir(run).Workspace()
	for _, d := range []string{shared, ws, filepath.Join(run, "jobs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(shared, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(shared, ws, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(ws, unix.MNT_DETACH) })
	if err := RemoveDetached(run); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(run); !os.IsNotExist(err) {
		t.Errorf("run directory after RemoveDetached: %v, want it gone", err)
	}
	if _, err := os.Stat(filepath.Join(shared, "keep")); err != nil {
		t.Errorf("RemoveDetached deleted through the mount: %v", err)
	}
	mounts, err := Mounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.Point, root) {
			t.Errorf("mount left at %s", m.Point)
		}
	}
	// Nothing mounted: nothing to do.
	if err := Detach(filepath.Join(root, "missing")); err != nil {
		t.Errorf("Detach of a path without mounts: %v", err)
	}
}
