//go:build !linux

package workspace

import "errors"

// canMount reports that overlays are not used here.
func canMount() bool { return false }

// errNoOverlay is what the mount helpers return where overlayfs is not.
var errNoOverlay = errors.New("overlayfs is not supported on this system")

// mountOverlay is unsupported here.
func mountOverlay(string, string, string, string) error { return errNoOverlay }

// unmountOverlay is unsupported here.
func unmountOverlay(string, bool) error { return errNoOverlay }
