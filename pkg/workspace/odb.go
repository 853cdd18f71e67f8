package workspace

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

// maxAlternates bounds how many object directories alternates may chain in,
// so a cycle in objects/info/alternates cannot loop forever.
const maxAlternates = 16

// odb is a read-only view of a repository's object database: its packs and
// loose-object directories, including those reached through alternates.
// Objects are read by location and never re-hashed: the pushed repository is
// trusted as git itself already verified what it received.
type odb struct {
	packs []*pack
	dirs  []string // objects directories searched for loose objects
}

// pack is one packfile with its decoded index.
type pack struct {
	path string
	f    *os.File
	data []byte // the pack mapped into memory, or nil to use ReadAt
	idx  *idxfile.MemoryIndex
	// offsets holds every object's offset in ascending order followed by
	// the offset of the trailing checksum, so the compressed extent of an
	// object is the gap to the next offset.
	offsets []int64
}

// objectsDir returns the objects directory of the repository at gitDir,
// accepting a bare repository, a .git directory or a work tree holding one.
func objectsDir(gitDir string) (string, error) {
	for _, dir := range []string{
		filepath.Join(gitDir, "objects"),
		filepath.Join(gitDir, ".git", "objects"),
	} {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir, nil
		}
	}
	return "", fmt.Errorf("find objects directory in %s: %w", gitDir, fs.ErrNotExist)
}

// openODB opens the object database of the repository at gitDir. With
// mapPacks unset, packs are read with ReadAt rather than mapped.
func openODB(gitDir string, mapPacks bool) (*odb, error) {
	root, err := objectsDir(gitDir)
	if err != nil {
		return nil, err
	}
	db := &odb{}
	queue := []string{root}
	for len(queue) > 0 && len(db.dirs) < maxAlternates {
		dir := queue[0]
		queue = queue[1:]
		if slices.Contains(db.dirs, dir) {
			continue
		}
		db.dirs = append(db.dirs, dir)
		if err := db.openPacks(dir, mapPacks); err != nil {
			db.close()
			return nil, err
		}
		alts, err := readAlternates(dir)
		if err != nil {
			db.close()
			return nil, err
		}
		queue = append(queue, alts...)
	}
	return db, nil
}

// readAlternates lists the object directories named in dir/info/alternates.
func readAlternates(dir string) ([]string, error) {
	path := filepath.Join(dir, "info", "alternates")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read alternates %s: %w", path, err)
	}
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !filepath.IsAbs(line) {
			line = filepath.Join(dir, line)
		}
		dirs = append(dirs, filepath.Clean(line))
	}
	return dirs, nil
}

// openPacks opens every pack in dir/pack that has an index.
func (db *odb) openPacks(dir string, mapPacks bool) error {
	idxPaths, err := filepath.Glob(filepath.Join(dir, "pack", "pack-*.idx"))
	if err != nil {
		return fmt.Errorf("list packs in %s: %w", dir, err)
	}
	for _, idxPath := range idxPaths {
		p, err := openPack(idxPath, mapPacks)
		if errors.Is(err, fs.ErrNotExist) {
			// An index without its pack is left behind by an interrupted
			// repack; git ignores it too.
			continue
		}
		if err != nil {
			return err
		}
		db.packs = append(db.packs, p)
	}
	return nil
}

// openPack decodes the index at idxPath and opens the pack next to it.
func openPack(idxPath string, mapPacks bool) (*pack, error) {
	packPath := strings.TrimSuffix(idxPath, ".idx") + ".pack"
	f, err := os.Open(packPath)
	if err != nil {
		return nil, fmt.Errorf("open pack %s: %w", packPath, err)
	}
	p, err := loadPack(f, idxPath, packPath, mapPacks)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// loadPack checks the pack header and decodes its index.
func loadPack(f *os.File, idxPath, packPath string, mapPacks bool) (*pack, error) {
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("read pack header %s: %w", packPath, err)
	}
	version := binary.BigEndian.Uint32(hdr[4:8])
	if string(hdr[:4]) != "PACK" || (version != 2 && version != 3) {
		return nil, fmt.Errorf("read pack header %s: not a version 2 or 3 pack", packPath)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat pack %s: %w", packPath, err)
	}
	raw, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, fmt.Errorf("read pack index %s: %w", idxPath, err)
	}
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(bytes.NewReader(raw)).Decode(idx); err != nil {
		return nil, fmt.Errorf("decode pack index %s: %w", idxPath, err)
	}
	p := &pack{path: packPath, f: f, idx: idx}
	if err := p.sortOffsets(fi.Size()); err != nil {
		return nil, fmt.Errorf("read pack index %s: %w", idxPath, err)
	}
	if mapPacks {
		p.data = mapFile(f, fi.Size())
	}
	return p, nil
}

// sortOffsets fills p.offsets from the index.
func (p *pack) sortOffsets(packSize int64) error {
	end := packSize - hashSize
	offsets := make([]int64, 0, p.idx.Fanout[255]+1)
	for k := range p.idx.Offset32 {
		for i := 0; i*4 < len(p.idx.Offset32[k]); i++ {
			off, err := p.offsetAt(k, i)
			if err != nil {
				return err
			}
			if off < 12 || off >= end {
				return fmt.Errorf("object offset %d outside pack of %d bytes", off, packSize)
			}
			offsets = append(offsets, off)
		}
	}
	slices.Sort(offsets)
	p.offsets = append(offsets, end)
	return nil
}

// offsetAt decodes the offset of the i-th object in fanout bucket k.
func (p *pack) offsetAt(k, i int) (int64, error) {
	o := binary.BigEndian.Uint32(p.idx.Offset32[k][i*4:])
	if o&(1<<31) == 0 {
		return int64(o), nil
	}
	j := int(o&^(1<<31)) * 8
	if j+8 > len(p.idx.Offset64) {
		return 0, errors.New("64-bit offset index out of range")
	}
	return int64(binary.BigEndian.Uint64(p.idx.Offset64[j:])), nil
}

// find returns the offset of the object h in the pack. It searches the
// index's exported tables directly: idxfile's FindOffset also records every
// lookup in a locked map, which costs memory and contention for nothing here.
func (p *pack) find(h plumbing.Hash) (int64, bool) {
	k := p.idx.FanoutMapping[h[0]]
	if k < 0 || k >= len(p.idx.Names) {
		return 0, false
	}
	names := p.idx.Names[k]
	lo, hi := 0, len(names)/hashSize
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(names[mid*hashSize:(mid+1)*hashSize], h[:]); {
		case c == 0:
			off, err := p.offsetAt(k, mid)
			return off, err == nil
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

// end returns where the object starting at off ends.
func (p *pack) end(off int64) (int64, error) {
	i, found := slices.BinarySearch(p.offsets, off)
	if !found || i+1 >= len(p.offsets) {
		return 0, fmt.Errorf("no object at offset %d of pack %s", off, p.path)
	}
	return p.offsets[i+1], nil
}

// slice returns the pack bytes [from, to): a view of the mapping, or read
// into *buf.
func (p *pack) slice(from, to int64, buf *[]byte) ([]byte, error) {
	if p.data != nil {
		return p.data[from:to], nil
	}
	*buf = grow(*buf, to-from)
	if _, err := p.f.ReadAt(*buf, from); err != nil {
		return nil, fmt.Errorf("read pack %s at %d: %w", p.path, from, err)
	}
	return *buf, nil
}

// reader returns a buffered stream of the pack bytes [from, to).
func (p *pack) reader(from, to int64) io.Reader {
	if p.data != nil {
		return bytes.NewReader(p.data[from:to])
	}
	return bufio.NewReaderSize(io.NewSectionReader(p.f, from, to-from), 64<<10)
}

// locate finds the pack holding h.
func (db *odb) locate(h plumbing.Hash) (*pack, int64, bool) {
	for _, p := range db.packs {
		if off, ok := p.find(h); ok {
			return p, off, true
		}
	}
	return nil, 0, false
}

// openLoose opens the loose object file of h, or returns an error wrapping
// plumbing.ErrObjectNotFound when no objects directory has it.
func (db *odb) openLoose(h plumbing.Hash) (*os.File, error) {
	hex := h.String()
	for _, dir := range db.dirs {
		f, err := os.Open(filepath.Join(dir, hex[:2], hex[2:]))
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open loose object %s: %w", hex, err)
		}
	}
	return nil, plumbing.ErrObjectNotFound
}

// close releases the pack files.
func (db *odb) close() {
	for _, p := range db.packs {
		unmapFile(p.data)
		p.f.Close()
	}
}
