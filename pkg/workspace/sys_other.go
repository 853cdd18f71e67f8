//go:build !unix

package workspace

import (
	"io/fs"
	"os"
)

// mapFile reports that files are not mapped here; packs are read with
// ReadAt.
func mapFile(*os.File, int64) []byte { return nil }

// unmapFile does nothing, as mapFile maps nothing.
func unmapFile([]byte) {}

// rawFile is a file being written.
type rawFile struct{ *os.File }

// createExcl creates path with perm, failing if anything exists there.
func createExcl(path string, perm fs.FileMode) (*rawFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	return &rawFile{f}, nil
}
