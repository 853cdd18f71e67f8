//go:build !linux

package datadir

import "errors"

// detach is not supported here: nothing in a data root is mounted
// where quire-hook cannot mount.
func detach(string) error { return errors.New("unmount is not supported on this system") }
