package notes

import (
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
)

// storeLoose writes o as a loose object of the repository at gitDir, as
// git does: "<type> <size>\0<content>" in a zlib stream at
// objects/<2 hex>/<38 hex>, written to a temporary file beside it and
// renamed into place, so a reader never sees half an object. An object
// already there is left as it is.
//
// It replaces go-git's SetEncodedObject, whose zlib writer compresses at
// the default level: that allocates and touches ~700 KiB of hash tables
// per process, ~120 page faults, which on a VM where a fault costs tens
// of microseconds was 5 ms of every hook (docs/PERFORMANCE.md, P2). A
// note, its trees and its commit are small and mostly hashes, which do
// not compress, so they are stored (zlib level 0, as valid to git as any
// other level); `git gc` packs them like any loose object.
func storeLoose(gitDir string, o plumbing.EncodedObject, shared sharedMode) (plumbing.Hash, error) {
	h := o.Hash()
	hex := h.String()
	dir := filepath.Join(gitDir, "objects", hex[:2])
	final := filepath.Join(dir, hex[2:])
	if _, err := os.Lstat(final); err == nil {
		return h, nil
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := shared.adjust(dir); err != nil {
		return plumbing.ZeroHash, err
	}
	tmp, err := os.CreateTemp(dir, "tmp_obj_")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	err = writeObject(tmp, o)
	if err == nil {
		err = tmp.Chmod(0o444) // read-only, as git and go-git make objects
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return plumbing.ZeroHash, err
	}
	if err := shared.adjust(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return plumbing.ZeroHash, err
	}
	return h, nil
}

// writeObject writes o's header and content to w as a stored zlib
// stream.
func writeObject(w io.Writer, o plumbing.EncodedObject) error {
	zw, err := zlib.NewWriterLevel(w, zlib.NoCompression)
	if err != nil {
		return err
	}
	hdr := append([]byte(o.Type().String()+" "), strconv.FormatInt(o.Size(), 10)...)
	if _, err := zw.Write(append(hdr, 0)); err != nil {
		return err
	}
	r, err := o.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(zw, r)
	if err != nil {
		return err
	}
	if n != o.Size() {
		return fmt.Errorf("object %s: %d bytes of content, want %d", o.Hash(), n, o.Size())
	}
	return zw.Close()
}
