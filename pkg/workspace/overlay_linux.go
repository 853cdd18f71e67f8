//go:build linux

package workspace

import (
	"errors"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// canMount reports whether this process may mount: it has CAP_SYS_ADMIN
// (root has). Without it no overlay is tried, so a hook running as an
// ordinary user never pays for a mount that must fail.
var canMount = sync.OnceValue(func() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SYS_ADMIN) != 0
})

// mountOverlay mounts an overlay of lower (read only), upper and work
// (empty directories on one file system) at target. The paths must not
// hold ',', ':' or '\' (overlayPathOK), which the option string would
// take for separators.
//
// The mount is nosuid and nodev, and noexec if the file system under
// target is: a job that may chmod its files (root in a container without
// capabilities) must not leave a set-user-ID file that a local user
// could run from <run>/workspace, and an operator's noexec data root
// stays noexec. redirect_dir=on lets a job rename a directory of the
// commit, which overlayfs otherwise refuses with EXDEV (Go's os.Rename,
// unlike mv, does not copy instead); a kernel that does not know the
// option gets the mount without it.
func mountOverlay(lower, upper, work, target string) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(target), &fs); err == nil && fs.Flags&unix.ST_NOEXEC != 0 {
		flags |= unix.MS_NOEXEC
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	err := mount(target, flags, opts+",redirect_dir=on")
	if errors.Is(err, syscall.EINVAL) {
		err = mount(target, flags, opts)
	}
	return err
}

// mount calls mount(2) for an overlay at target, again if interrupted.
func mount(target string, flags uintptr, opts string) error {
	for {
		err := unix.Mount("overlay", target, "overlay", flags, opts)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// unmountOverlay takes the overlay at target off: at once, or with lazy
// set or when a process still uses it (EBUSY), detached (the process
// keeps what it has open; writes still go to the upper dir only). A
// target that is no longer a mount point (EINVAL) is fine.
func unmountOverlay(target string, lazy bool) error {
	flags := unix.UMOUNT_NOFOLLOW
	if lazy {
		flags |= unix.MNT_DETACH
	}
	for {
		err := unix.Unmount(target, flags)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EBUSY) && flags&unix.MNT_DETACH == 0:
			flags |= unix.MNT_DETACH
			continue
		case errors.Is(err, syscall.EINVAL):
			return nil
		}
		return err
	}
}
