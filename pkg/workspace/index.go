package workspace

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// fileStat is what the stat index keeps of a file or symlink, like git's
// index: enough that any change a job can make shows up. Writing,
// truncating, chmod, chown, linking, replacing and setting an xattr or
// ACL all move ctime (which, unlike mtime, no unprivileged process can
// set back) or the inode.
type fileStat struct {
	mode  uint32 // st_mode: type and permission bits
	ino   uint64
	nlink uint64
	size  int64
	mtime int64 // nanoseconds
	ctime int64 // nanoseconds
	uid   uint32
	gid   uint32
}

// indexEntry is one path of a materialized tree: what it was written
// from, and for files and symlinks the stat taken right after.
type indexEntry struct {
	path string // slash-separated, relative to the workspace
	kind kind
	hash plumbing.Hash // blob, tree (directories) or commit (submodules)
	st   fileStat
}

// index describes a pristine tree: the commit it holds and every entry
// written. stamp is the file system's clock just after the last write:
// an entry whose ctime is not before it may have been changed again
// within the same clock tick ("racy git"), so it is never trusted. uid
// and gid own the workspace root as written, and so every directory;
// xattrs are the root's extended attributes then (xattrsOf), what every
// directory made in it gets too: "" but for an SELinux label or a
// default ACL inherited from above the workspace.
//
// A sealed index describes a tree that no job ever saw (the lower dir of
// an overlay workspace): it holds no entries, only the tree it is and
// count, its files, symlinks and submodules, and the tree is trusted to
// be exactly that tree without a stat — within the boot it was sealed
// in: nothing is fsynced, so after a crash of the machine its files may
// be short or empty under an index that survived, and it is not reused.
type index struct {
	commit   plumbing.Hash
	tree     plumbing.Hash
	stamp    int64
	uid, gid uint32
	xattrs   string
	sealed   bool
	boot     string // sealed: the boot it was sealed in (bootID)
	count    int
	entries  map[string]indexEntry
}

// reset empties idx for a tree of commit whose root tree is tree.
func (idx *index) reset(commit, tree plumbing.Hash) {
	idx.commit, idx.tree, idx.stamp = commit, tree, 0
	idx.entries = make(map[string]indexEntry, 1024)
}

// st_mode file types, as Linux numbers them.
const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
)

// fileMode is the st_mode a file or symlink of kind k is written with.
func fileMode(k kind) uint32 {
	switch k {
	case kindExec:
		return sIFREG | 0o755
	case kindSymlink:
		return sIFLNK | 0o777
	}
	return sIFREG | 0o644
}

// pristine reports whether st, found on disk at e's path, is still
// exactly what was written for e. Directories and submodules must be
// plain 0755 directories owned as the workspace root was (what is in
// them is checked entry by entry); one whose ctime is not before the
// stamp must also have exactly the xattrs the root had (dirChanged),
// which st cannot tell.
func (idx *index) pristine(e indexEntry, st fileStat) bool {
	switch e.kind {
	case kindDir, kindSubmodule:
		return idx.dirOK(st)
	}
	return st == e.st && st.nlink == 1 && st.mode == fileMode(e.kind) && st.ctime < idx.stamp
}

// dirOK reports whether st is a plain 0755 directory owned as the
// workspace root was when the tree was written.
func (idx *index) dirOK(st fileStat) bool {
	return st.mode == sIFDIR|0o755 && st.uid == idx.uid && st.gid == idx.gid
}

// dirChanged reports whether a directory's inode changed since the tree
// was written (an entry added or removed, chown, an xattr or ACL set):
// it is then kept only when its xattrs are idx.xattrs exactly.
func (idx *index) dirChanged(st fileStat) bool {
	return st.ctime >= idx.stamp
}

// indexMagic starts an index file; the version changes with the format
// (2: owners; 3: sealed trees).
const indexMagic = "quire-workspace-index 3\n"

// encode serializes idx, entries in no particular order (sorting 15k
// paths cost more than the rest of the encoding), followed by the SHA-256
// of everything before it so a torn or truncated file is detected.
func (idx *index) encode() []byte {
	b := make([]byte, 0, 64+len(idx.entries)*96)
	b = append(b, indexMagic...)
	b = append(b, idx.commit[:]...)
	b = append(b, idx.tree[:]...)
	b = binary.AppendVarint(b, idx.stamp)
	b = binary.AppendUvarint(b, uint64(idx.uid))
	b = binary.AppendUvarint(b, uint64(idx.gid))
	b = binary.AppendUvarint(b, uint64(len(idx.xattrs)))
	b = append(b, idx.xattrs...)
	var sealed byte
	if idx.sealed {
		sealed = 1
	}
	b = append(b, sealed)
	if idx.sealed {
		b = binary.AppendUvarint(b, uint64(len(idx.boot)))
		b = append(b, idx.boot...)
	}
	b = binary.AppendUvarint(b, uint64(idx.count))
	b = binary.AppendUvarint(b, uint64(len(idx.entries)))
	for p, e := range idx.entries {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
		b = append(b, byte(e.kind))
		b = append(b, e.hash[:]...)
		b = binary.AppendUvarint(b, uint64(e.st.mode))
		b = binary.AppendUvarint(b, e.st.ino)
		b = binary.AppendUvarint(b, e.st.nlink)
		b = binary.AppendVarint(b, e.st.size)
		b = binary.AppendVarint(b, e.st.mtime)
		b = binary.AppendVarint(b, e.st.ctime)
		b = binary.AppendUvarint(b, uint64(e.st.uid))
		b = binary.AppendUvarint(b, uint64(e.st.gid))
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// errBadIndex marks an index file that is truncated, torn or not ours.
var errBadIndex = errors.New("bad workspace index")

// decodeIndex parses what encode wrote.
func decodeIndex(b []byte) (*index, error) {
	if len(b) < len(indexMagic)+sha256.Size || !bytes.HasPrefix(b, []byte(indexMagic)) {
		return nil, errBadIndex
	}
	body := b[:len(b)-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], b[len(body):]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadIndex)
	}
	// Every path is a substring of one string: one allocation, not one
	// per entry.
	text := string(body)
	d := decoder{b: body[len(indexMagic):]}
	idx := &index{}
	d.hash(&idx.commit)
	d.hash(&idx.tree)
	idx.stamp = d.varint()
	idx.uid = uint32(d.uvarint())
	idx.gid = uint32(d.uvarint())
	xl := d.uvarint()
	if d.err != nil || xl > uint64(len(d.b)) {
		return nil, errBadIndex
	}
	idx.xattrs = string(d.b[:xl])
	d.b = d.b[xl:]
	switch d.byte() {
	case 0:
	case 1:
		idx.sealed = true
		bl := d.uvarint()
		if d.err != nil || bl > uint64(len(d.b)) {
			return nil, errBadIndex
		}
		idx.boot = string(d.b[:bl])
		d.b = d.b[bl:]
	default:
		return nil, errBadIndex
	}
	count := d.uvarint()
	if d.err != nil || count > 1<<40 {
		return nil, errBadIndex
	}
	idx.count = int(count)
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		return nil, errBadIndex
	}
	idx.entries = make(map[string]indexEntry, n)
	for range n {
		var e indexEntry
		l := d.uvarint()
		if d.err != nil || l > uint64(len(d.b)) {
			return nil, errBadIndex
		}
		at := len(body) - len(d.b)
		e.path = text[at : at+int(l)]
		d.b = d.b[l:]
		e.kind = kind(d.byte())
		d.hash(&e.hash)
		e.st.mode = uint32(d.uvarint())
		e.st.ino = d.uvarint()
		e.st.nlink = d.uvarint()
		e.st.size = d.varint()
		e.st.mtime = d.varint()
		e.st.ctime = d.varint()
		e.st.uid = uint32(d.uvarint())
		e.st.gid = uint32(d.uvarint())
		if d.err != nil || e.kind < kindDir || e.kind > kindSubmodule || e.path == "" {
			return nil, errBadIndex
		}
		idx.entries[e.path] = e
	}
	if len(d.b) != 0 || len(idx.entries) != int(n) {
		return nil, errBadIndex
	}
	return idx, nil
}

// decoder reads an encoded index, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errBadIndex, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errBadIndex, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.err = errBadIndex
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) hash(h *plumbing.Hash) {
	if len(d.b) < hashSize {
		d.err, d.b = errBadIndex, nil
		return
	}
	copy(h[:], d.b)
	d.b = d.b[hashSize:]
}

// readIndex reads the index file at path. A sealed index of an earlier
// boot is refused (errBadIndex): see index.
func readIndex(path string) (*index, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	idx, err := decodeIndex(b)
	if err == nil && idx.sealed && idx.boot != bootID() {
		return nil, fmt.Errorf("%w: sealed in another boot", errBadIndex)
	}
	return idx, err
}

// bootID names this boot of the machine (Linux's random boot_id), or ""
// where the system does not say.
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})
