package workspace

import (
	"errors"
	"fmt"
	"math"

	"github.com/go-git/go-git/v5/plumbing"
)

const (
	// maxExtentRead is the largest compressed object read in one go; the
	// header of a bigger one is read first so a large blob can be streamed.
	maxExtentRead = 4 << 20
	// streamMin is the size from which an undeltified blob is inflated
	// straight into its file instead of into memory.
	streamMin = 8 << 20
	// maxDeltaDepth bounds a delta chain, so a crafted pack whose REF
	// deltas form a cycle ends in an error.
	maxDeltaDepth = 10000
	// headerRead covers the longest pack entry header: a 10-byte size
	// varint plus a 20-byte base hash.
	headerRead = 64
)

// maxInflated bounds what n bytes of zlib data can inflate to: deflate
// expands at most 1032:1. Checking it keeps a crafted size from making a
// huge allocation.
func maxInflated(n int64) int64 {
	if n > math.MaxInt64/1032-64 {
		return math.MaxInt64
	}
	return n*1032 + 64
}

// errCorrupt marks pack data that cannot be decoded.
var errCorrupt = errors.New("corrupt pack entry")

// entry is the decoded header of one pack object.
type entry struct {
	typ      plumbing.ObjectType
	size     int64 // inflated size; for deltas, the size of the delta
	data     int64 // pack offset of the zlib stream
	end      int64 // pack offset just past the object
	baseOff  int64 // OFS delta base
	baseHash plumbing.Hash
}

// parseEntry decodes the entry header in b, which starts at pack offset off.
func parseEntry(b []byte, off int64) (entry, error) {
	var e entry
	if len(b) == 0 {
		return e, fmt.Errorf("%w at offset %d: empty", errCorrupt, off)
	}
	c := b[0]
	e.typ = plumbing.ObjectType((c >> 4) & 7)
	e.size = int64(c & 15)
	i, shift := 1, 4
	for c&0x80 != 0 {
		if i >= len(b) || shift > 56 {
			return e, fmt.Errorf("%w at offset %d: bad size", errCorrupt, off)
		}
		c = b[i]
		i++
		e.size |= int64(c&0x7f) << shift
		shift += 7
	}
	switch e.typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	case plumbing.OFSDeltaObject:
		if i >= len(b) {
			return e, fmt.Errorf("%w at offset %d: bad base offset", errCorrupt, off)
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel > 1<<48 {
				return e, fmt.Errorf("%w at offset %d: bad base offset", errCorrupt, off)
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel >= off {
			return e, fmt.Errorf("%w at offset %d: base offset out of range", errCorrupt, off)
		}
		e.baseOff = off - rel
	case plumbing.REFDeltaObject:
		if i+hashSize > len(b) {
			return e, fmt.Errorf("%w at offset %d: bad base hash", errCorrupt, off)
		}
		copy(e.baseHash[:], b[i:])
		i += hashSize
	default:
		return e, fmt.Errorf("%w at offset %d: unknown type %d", errCorrupt, off, e.typ)
	}
	e.data = off + int64(i)
	return e, nil
}

// readEntry reads the header of the pack object at off and, unless the
// pack is not mapped and the object is large, its compressed payload. The
// payload may alias r.comp.
func (r *reader) readEntry(p *pack, off int64) (entry, []byte, error) {
	end, err := p.end(off)
	if err != nil {
		return entry{}, nil, err
	}
	whole := p.data != nil || end-off <= maxExtentRead
	to := end
	if !whole {
		to = off + headerRead
	}
	b, err := p.slice(off, to, &r.comp)
	if err != nil {
		return entry{}, nil, err
	}
	e, err := parseEntry(b, off)
	if err != nil {
		return e, nil, fmt.Errorf("read pack %s: %w", p.path, err)
	}
	e.end = end
	if e.data >= end {
		return e, nil, fmt.Errorf("%w at offset %d: no data", errCorrupt, off)
	}
	if e.size < 0 || e.size > maxInflated(end-e.data) {
		return e, nil, fmt.Errorf("%w at offset %d: size %d too large for its data", errCorrupt, off, e.size)
	}
	if !whole {
		return e, nil, nil
	}
	return e, b[e.data-off:], nil
}

// inflateEntry inflates the entry's payload into dst, which must have
// e.size bytes. comp is the compressed payload, or nil to read it now.
func (r *reader) inflateEntry(p *pack, e entry, comp []byte, dst []byte) error {
	if comp == nil {
		var err error
		if comp, err = p.slice(e.data, e.end, &r.comp); err != nil {
			return err
		}
	}
	if err := r.inflateBytes(comp, dst); err != nil {
		return fmt.Errorf("inflate pack %s at %d: %w", p.path, e.data, err)
	}
	return nil
}

// link is one delta of a chain being resolved.
type link struct {
	key   cacheKey
	delta []byte
}

// resolve rebuilds a deltified object: it follows the chain of bases down
// to a cached or undeltified object, then applies the deltas back up,
// caching each intermediate result since sibling objects tend to share
// bases.
func (r *reader) resolve(p *pack, off int64, e entry, comp []byte) (plumbing.ObjectType, []byte, error) {
	var chain []link
	var typ plumbing.ObjectType
	var base []byte
	for depth := 0; ; depth++ {
		if depth > maxDeltaDepth {
			return 0, nil, fmt.Errorf("%w at offset %d: delta chain too long", errCorrupt, off)
		}
		key := cacheKey{p, off}
		if depth > 0 {
			if t, data, ok := r.cache.get(key); ok {
				typ, base = t, data
				break
			}
			var err error
			if e, comp, err = r.readEntry(p, off); err != nil {
				return 0, nil, err
			}
		}
		data := make([]byte, e.size)
		if err := r.inflateEntry(p, e, comp, data); err != nil {
			return 0, nil, err
		}
		if !e.typ.IsDelta() {
			typ, base = e.typ, data
			r.cache.put(key, typ, data)
			break
		}
		chain = append(chain, link{key, data})
		if e.typ == plumbing.OFSDeltaObject {
			off = e.baseOff
			continue
		}
		bp, boff, ok := r.db.locate(e.baseHash)
		if !ok {
			t, data, err := r.loose(e.baseHash)
			if err != nil {
				return 0, nil, fmt.Errorf("read delta base %s: %w", e.baseHash, err)
			}
			// r.loose may return r.buf, which the next read reuses.
			typ, base = t, append([]byte(nil), data...)
			break
		}
		p, off = bp, boff
	}
	for i := len(chain) - 1; i >= 0; i-- {
		data, err := patchDelta(base, chain[i].delta)
		if err != nil {
			return 0, nil, fmt.Errorf("apply delta at offset %d of %s: %w", chain[i].key.off, chain[i].key.p.path, err)
		}
		if i > 0 {
			r.cache.put(chain[i].key, typ, data)
		}
		base = data
	}
	return typ, base, nil
}

// hashSize is the length of a SHA-1 object name.
const hashSize = 20
