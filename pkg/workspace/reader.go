package workspace

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// reader reads objects for one goroutine, reusing its inflater and buffers
// from object to object. Several readers share one odb and baseCache.
type reader struct {
	db    *odb
	cache *baseCache
	zr    io.ReadCloser // raw deflate reader; git's zlib header is skipped
	br    *bufio.Reader
	hdr   [64]byte
	comp  []byte // compressed pack extent
	buf   []byte // inflated object not kept beyond the next read
}

// newReader returns a reader of db sharing cache.
func newReader(db *odb, cache *baseCache) *reader {
	return &reader{db: db, cache: cache, br: bufio.NewReaderSize(nil, 64<<10)}
}

// grow returns b resized to n bytes, reallocating only when too small.
func grow(b []byte, n int64) []byte {
	if int64(cap(b)) >= n {
		return b[:n]
	}
	return make([]byte, n)
}

// startInflate checks the two-byte zlib header read from src and points
// r.zr at the deflate stream after it. The Adler-32 trailer is not checked:
// objects are trusted like their hashes are.
func (r *reader) startInflate(src io.Reader, zh []byte) error {
	if len(zh) < 2 || !zlibHeader(zh) {
		return errors.New("bad zlib header")
	}
	if r.zr == nil {
		r.zr = flate.NewReader(src)
		return nil
	}
	return r.zr.(flate.Resetter).Reset(src, nil)
}

// zlibHeader reports whether zh starts with a zlib header for deflate
// without a preset dictionary.
func zlibHeader(zh []byte) bool {
	return zh[0]&0x0f == 8 && zh[1]&0x20 == 0 && (uint(zh[0])<<8|uint(zh[1]))%31 == 0
}

// inflateBytes inflates the zlib stream comp into exactly len(dst) bytes.
func (r *reader) inflateBytes(comp, dst []byte) error {
	if len(comp) < 2 || !zlibHeader(comp) {
		return errors.New("bad zlib header")
	}
	if err := inflate(dst, comp[2:]); err != nil {
		return fmt.Errorf("inflate %d bytes: %w", len(dst), err)
	}
	return nil
}

// read returns the type and content of object h. The content may alias
// the reader's buffer and is valid until the next call.
func (r *reader) read(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	if p, off, ok := r.db.locate(h); ok {
		return r.packed(p, off, false)
	}
	return r.loose(h)
}

// patchDelta applies a git delta to base.
func patchDelta(base, delta []byte) ([]byte, error) {
	return packfile.PatchDelta(base, delta)
}

// looseHeader opens the loose object h and reads its "type size\0" header,
// leaving r.zr positioned at the content. prefix holds content bytes that
// were inflated along with the header. The caller closes the file.
func (r *reader) looseHeader(h plumbing.Hash) (typ plumbing.ObjectType, size int64, prefix []byte, f *os.File, err error) {
	f, err = r.db.openLoose(h)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			err = fmt.Errorf("read loose object %s: %w", h, err)
		}
	}()
	r.br.Reset(f)
	var zh [2]byte
	if _, err := io.ReadFull(r.br, zh[:]); err != nil {
		return 0, 0, nil, nil, err
	}
	if err := r.startInflate(r.br, zh[:]); err != nil {
		return 0, 0, nil, nil, err
	}
	n, err := io.ReadFull(r.zr, r.hdr[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, 0, nil, nil, err
	}
	head, rest, ok := bytes.Cut(r.hdr[:n], []byte{0})
	if !ok {
		return 0, 0, nil, nil, errors.New("bad header")
	}
	name, sizeText, _ := bytes.Cut(head, []byte{' '})
	typ, err = plumbing.ParseObjectType(string(name))
	if err != nil {
		return 0, 0, nil, nil, err
	}
	size, err = strconv.ParseInt(string(sizeText), 10, 64)
	if err != nil || size < int64(len(rest)) {
		return 0, 0, nil, nil, fmt.Errorf("bad size %q", sizeText)
	}
	return typ, size, rest, f, nil
}

// loose reads the loose object h into memory; the content may alias r.buf.
func (r *reader) loose(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	typ, size, prefix, f, err := r.looseHeader(h)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, fmt.Errorf("read loose object %s: %w", h, err)
	}
	if size > maxInflated(fi.Size()) {
		return 0, nil, fmt.Errorf("read loose object %s: size %d too large for its data", h, size)
	}
	r.buf = grow(r.buf, size)
	n := copy(r.buf, prefix)
	if _, err := io.ReadFull(r.zr, r.buf[n:]); err != nil {
		return 0, nil, fmt.Errorf("read loose object %s: %w", h, err)
	}
	return typ, r.buf, nil
}

// blobSource is the content of a blob, either whole in memory or as a
// stream of exactly size bytes.
type blobSource struct {
	data []byte
	rd   io.Reader
	size int64
	f    *os.File // file the stream reads, if any
}

// close releases the file the stream reads.
func (b blobSource) close() {
	if b.f != nil {
		b.f.Close()
	}
}

// openBlob returns the content of blob h: in memory when small or
// deltified, as a stream when it is loose or a large undeltified pack
// object. In-memory content may alias the reader's buffer.
func (r *reader) openBlob(h plumbing.Hash) (blobSource, error) {
	p, off, ok := r.db.locate(h)
	if !ok {
		typ, size, prefix, f, err := r.looseHeader(h)
		if err != nil {
			return blobSource{}, err
		}
		if typ != plumbing.BlobObject {
			f.Close()
			return blobSource{}, fmt.Errorf("object %s is a %s, not a blob", h, typ)
		}
		rd := io.MultiReader(bytes.NewReader(prefix), io.LimitReader(r.zr, size-int64(len(prefix))))
		return blobSource{rd: rd, size: size, f: f}, nil
	}
	typ, data, err := r.packed(p, off, true)
	if err != nil || typ != 0 {
		if err == nil && typ != plumbing.BlobObject {
			err = fmt.Errorf("object %s is a %s, not a blob", h, typ)
		}
		return blobSource{data: data, size: int64(len(data))}, err
	}
	// A large undeltified blob: inflate it straight from the pack.
	e, _, err := r.readEntry(p, off)
	if err != nil {
		return blobSource{}, err
	}
	br := p.reader(e.data, e.end)
	var zh [2]byte
	if _, err := io.ReadFull(br, zh[:]); err != nil {
		return blobSource{}, fmt.Errorf("read pack %s at %d: %w", p.path, e.data, err)
	}
	if err := r.startInflate(br, zh[:]); err != nil {
		return blobSource{}, fmt.Errorf("inflate pack %s at %d: %w", p.path, e.data, err)
	}
	return blobSource{rd: io.LimitReader(r.zr, e.size), size: e.size}, nil
}

// packed returns the type and content of the pack object at off, applying
// deltas. The content may alias r.buf and is valid until the next call.
// With stream set, an undeltified blob of at least streamMin bytes is not
// read: packed returns a zero type and no error, and the caller streams it.
func (r *reader) packed(p *pack, off int64, stream bool) (plumbing.ObjectType, []byte, error) {
	if t, data, ok := r.cache.get(cacheKey{p, off}); ok {
		return t, data, nil
	}
	e, comp, err := r.readEntry(p, off)
	if err != nil {
		return 0, nil, err
	}
	if e.typ.IsDelta() {
		return r.resolve(p, off, e, comp)
	}
	if stream && e.typ == plumbing.BlobObject && e.size >= streamMin {
		return 0, nil, nil
	}
	r.buf = grow(r.buf, e.size)
	return e.typ, r.buf, r.inflateEntry(p, e, comp, r.buf)
}
