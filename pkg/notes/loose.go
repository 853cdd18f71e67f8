package notes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
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
// per object, ~150 page faults per hook, which on a VM where a fault
// costs tens of microseconds was 5 ms of every hook (docs/PERFORMANCE.md,
// P2). A note, its trees and its commit are small and mostly hashes,
// which do not compress, so they are stored (deflate's stored blocks, as
// valid to git as any level); `git gc` packs them like any loose object.
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

// writeObject writes o's header and content to w as a zlib stream of
// stored deflate blocks. It is written out here rather than with
// compress/zlib at NoCompression, because flate's writer allocates its
// ~650 KiB of compression tables even to store: three of them were more
// than half of what a one-job hook allocates, enough to set off a
// garbage collection in every hook.
func writeObject(w io.Writer, o plumbing.EncodedObject) error {
	r, err := o.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	hdr := append([]byte(o.Type().String()+" "), strconv.FormatInt(o.Size(), 10)...)
	hdr = append(hdr, 0)
	return writeStored(w, int64(len(hdr))+o.Size(), io.MultiReader(bytes.NewReader(hdr), r))
}

// maxStored is the most a stored deflate block holds (RFC 1951 3.2.4).
const maxStored = 65535

// writeStored writes the n bytes of r to w as a zlib stream (RFC 1950)
// of stored deflate blocks: the header for deflate with a 32 KiB window
// and no compression, blocks of at most maxStored bytes, each with its
// length and that length's complement, the last one marked final, and
// the Adler-32 of the data.
func writeStored(w io.Writer, n int64, r io.Reader) error {
	if _, err := w.Write([]byte{0x78, 0x01}); err != nil {
		return err
	}
	sum := adler32.New()
	buf := make([]byte, 5+min(n, maxStored))
	for {
		size := min(n, maxStored)
		n -= size
		block := buf[:5+size]
		block[0] = 0
		if n == 0 {
			block[0] = 1 // BFINAL, BTYPE 00: stored
		}
		binary.LittleEndian.PutUint16(block[1:], uint16(size))
		binary.LittleEndian.PutUint16(block[3:], ^uint16(size))
		if _, err := io.ReadFull(r, block[5:]); err != nil {
			return fmt.Errorf("read object content: %w", err)
		}
		sum.Write(block[5:])
		if _, err := w.Write(block); err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	if m, _ := r.Read(buf[:1]); m > 0 {
		return errors.New("object content is longer than its size")
	}
	_, err := w.Write(binary.BigEndian.AppendUint32(nil, sum.Sum32()))
	return err
}
