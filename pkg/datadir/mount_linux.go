//go:build linux

package datadir

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// detach lazily unmounts the mount at point; one that is gone already
// (EINVAL: not a mount point, ENOENT) is fine.
func detach(point string) error {
	for {
		err := unix.Unmount(point, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err == nil, errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOENT):
			return nil
		}
		return err
	}
}
