package workspace

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync"
)

// inflate decodes a raw deflate stream (RFC 1951) from src into all of
// dst, whose length is the object's known size. Decoding straight into
// dst, back-references copied within it, avoids what compress/flate does
// for a stream of unknown length: every byte goes through a 32 KiB window
// and is copied out again, and every input byte through an io.ByteReader.
// Like io.ReadFull on a flate reader, it stops once dst is full and fails
// if the stream ends first. Malformed input is an error, never a panic.
func inflate(dst, src []byte) error {
	if len(dst) == 0 {
		return nil
	}
	d := inflater{src: src, dst: dst}
	return d.run()
}

var (
	errInflateShort = errors.New("inflate: stream ends before the object does")
	errInflateData  = errors.New("inflate: corrupt deflate stream")
)

// inflater is the state of one inflate call.
type inflater struct {
	src   []byte
	pos   int    // next byte of src to load into bits
	bits  uint64 // loaded bits, least significant first
	nbits uint
	dst   []byte
	out   int
	lit   huffman
	dist  huffman
}

// refill loads bits until at least 57 are held or src is exhausted.
func (d *inflater) refill() {
	if d.pos+8 <= len(d.src) {
		d.bits |= binary.LittleEndian.Uint64(d.src[d.pos:]) << d.nbits
		n := (63 - d.nbits) >> 3
		d.pos += int(n)
		d.nbits |= 56
		return
	}
	for d.nbits <= 56 && d.pos < len(d.src) {
		d.bits |= uint64(d.src[d.pos]) << d.nbits
		d.pos++
		d.nbits += 8
	}
}

// take consumes n (at most 32) bits.
func (d *inflater) take(n uint) (uint32, error) {
	if d.nbits < n {
		d.refill()
		if d.nbits < n {
			return 0, errInflateShort
		}
	}
	v := uint32(d.bits & (1<<n - 1))
	d.bits >>= n
	d.nbits -= n
	return v, nil
}

func (d *inflater) run() error {
	for {
		hdr, err := d.take(3)
		if err != nil {
			return err
		}
		switch hdr >> 1 {
		case 0:
			err = d.stored()
		case 1:
			fixedOnce()
			err = d.block(&fixedLit, &fixedDist)
		case 2:
			if err = d.dynamic(); err == nil {
				err = d.block(&d.lit, &d.dist)
			}
		default:
			err = errInflateData
		}
		if err != nil || d.out == len(d.dst) {
			return err
		}
		if hdr&1 != 0 {
			return errInflateShort
		}
	}
}

// stored copies an uncompressed block.
func (d *inflater) stored() error {
	// Give back the whole bytes held, then drop the partial one.
	d.pos -= int(d.nbits >> 3)
	d.bits, d.nbits = 0, 0
	if d.pos+4 > len(d.src) {
		return errInflateShort
	}
	n := int(binary.LittleEndian.Uint16(d.src[d.pos:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(d.src[d.pos+2:]) {
		return errInflateData
	}
	d.pos += 4
	if n > len(d.dst)-d.out {
		n = len(d.dst) - d.out
	}
	if d.pos+n > len(d.src) {
		return errInflateShort
	}
	copy(d.dst[d.out:], d.src[d.pos:d.pos+n])
	d.pos += n
	d.out += n
	return nil
}

// Length and distance bases and extra bits, RFC 1951 section 3.2.5.
var (
	lenBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dstBase  = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dstExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// block decodes one Huffman-coded block.
func (d *inflater) block(lit, dist *huffman) error {
	for {
		// The fast path: with 8 input bytes to load, one refill covers
		// a whole literal or length/distance pair (at most 48 bits) and
		// every code is in the direct tables.
		if d.pos+8 <= len(d.src) {
			d.refill()
			e := lit.fast[d.bits&(1<<fastBits-1)]
			if e != 0 && e>>4 < 256 {
				l := uint(e & 15)
				d.bits >>= l
				d.nbits -= l
				d.dst[d.out] = byte(e >> 4)
				d.out++
				if d.out == len(d.dst) {
					return nil
				}
				continue
			}
			if e>>4 > 256 && e>>4 < 257+29 {
				l := uint(e & 15)
				sym := e>>4 - 257
				bits, nbits := d.bits>>l, d.nbits-l
				x := uint(lenExtra[sym])
				n := int(lenBase[sym]) + int(bits&(1<<x-1))
				bits, nbits = bits>>x, nbits-x
				de := dist.fast[bits&(1<<fastBits-1)]
				if ds := de >> 4; de != 0 && ds < 30 {
					l := uint(de & 15)
					bits, nbits = bits>>l, nbits-l
					x := uint(dstExtra[ds])
					back := int(dstBase[ds]) + int(bits&(1<<x-1))
					if back <= d.out {
						d.bits, d.nbits = bits>>x, nbits-x
						d.copyBack(back, n)
						if d.out == len(d.dst) {
							return nil
						}
						continue
					}
				}
			}
		}
		sym, err := d.decode(lit)
		if err != nil {
			return err
		}
		if sym < 256 {
			d.dst[d.out] = byte(sym)
			d.out++
			if d.out == len(d.dst) {
				return nil
			}
			continue
		}
		if sym == 256 {
			return nil
		}
		sym -= 257
		if sym >= 29 {
			return errInflateData
		}
		extra, err := d.take(uint(lenExtra[sym]))
		if err != nil {
			return err
		}
		n := int(lenBase[sym]) + int(extra)
		ds, err := d.decode(dist)
		if err != nil {
			return err
		}
		if ds >= 30 {
			return errInflateData
		}
		extra, err = d.take(uint(dstExtra[ds]))
		if err != nil {
			return err
		}
		back := int(dstBase[ds]) + int(extra)
		if back > d.out {
			return errInflateData
		}
		d.copyBack(back, n)
		if d.out == len(d.dst) {
			return nil
		}
	}
}

// copyBack appends n bytes copied from back bytes before the end of the
// output (0 < back <= d.out), stopping where dst is full.
func (d *inflater) copyBack(back, n int) {
	n = min(n, len(d.dst)-d.out)
	dst, out := d.dst, d.out
	from := out - back
	switch {
	case back >= 8 && out+n+8 <= len(dst):
		// Whole words, overshooting into bytes written later: with
		// back >= 8 each word read is already final.
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(dst[out+i:], binary.LittleEndian.Uint64(dst[from+i:]))
		}
	case back >= n:
		copy(dst[out:out+n], dst[from:])
	default:
		for i := range n {
			dst[out+i] = dst[from+i]
		}
	}
	d.out += n
}

// codeOrder is the order of the code length code lengths.
var codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamic reads the code tables of a dynamic block into d.lit and d.dist.
func (d *inflater) dynamic() error {
	h, err := d.take(14)
	if err != nil {
		return err
	}
	nlit, ndist, nclen := int(h&31)+257, int(h>>5&31)+1, int(h>>10)+4
	if nlit > 286 || ndist > 30 {
		return errInflateData
	}
	var lens [320]uint8
	for i := range nclen {
		v, err := d.take(3)
		if err != nil {
			return err
		}
		lens[codeOrder[i]] = uint8(v)
	}
	var clen huffman
	if err := clen.build(lens[:19]); err != nil {
		return err
	}
	clear(lens[:19])
	for i := 0; i < nlit+ndist; {
		sym, err := d.decode(&clen)
		if err != nil {
			return err
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return errInflateData
			}
			val = lens[i-1]
			v, err := d.take(2)
			if err != nil {
				return err
			}
			rep = 3 + int(v)
		case 17:
			v, err := d.take(3)
			if err != nil {
				return err
			}
			rep = 3 + int(v)
		default:
			v, err := d.take(7)
			if err != nil {
				return err
			}
			rep = 11 + int(v)
		}
		if i+rep > nlit+ndist {
			return errInflateData
		}
		for range rep {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		return errInflateData
	}
	if err := d.lit.build(lens[:nlit]); err != nil {
		return err
	}
	return d.dist.build(lens[nlit : nlit+ndist])
}

// fastBits is how many bits the direct lookup table of a huffman covers;
// longer codes are decoded the canonical way, bit by bit.
const fastBits = 10

// huffman is a canonical Huffman code.
type huffman struct {
	// fast maps the next fastBits input bits to symbol<<4 | length, or
	// 0 when the code there is longer or unused.
	fast   [1 << fastBits]uint16
	count  [16]uint16  // number of codes of each length
	symbol [288]uint16 // symbols ordered by code
}

// build makes the code for the code lengths lens (0: unused symbol). An
// over-subscribed set of lengths is an error; an incomplete one is
// accepted, its unused codes failing when met.
func (h *huffman) build(lens []uint8) error {
	clear(h.count[:])
	for _, l := range lens {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return errInflateData
		}
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lens {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	clear(h.fast[:])
	code, idx := 0, 0
	for l := 1; l <= fastBits; l++ {
		for range h.count[l] {
			rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
			e := h.symbol[idx]<<4 | uint16(l)
			for j := rev; j < 1<<fastBits; j += 1 << l {
				h.fast[j] = e
			}
			code++
			idx++
		}
		code <<= 1
	}
	return nil
}

// decode reads one symbol of h.
func (d *inflater) decode(h *huffman) (int, error) {
	if d.nbits < 15 {
		d.refill()
	}
	if e := h.fast[d.bits&(1<<fastBits-1)]; e != 0 {
		l := uint(e & 15)
		if l > d.nbits {
			return 0, errInflateShort
		}
		d.bits >>= l
		d.nbits -= l
		return int(e >> 4), nil
	}
	code, first, index := 0, 0, 0
	for l := uint(1); l < 16; l++ {
		if l > d.nbits {
			return 0, errInflateShort
		}
		code |= int(d.bits>>(l-1)) & 1
		count := int(h.count[l])
		if code-count < first {
			d.bits >>= l
			d.nbits -= l
			return int(h.symbol[index+code-first]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errInflateData
}

// The fixed codes of RFC 1951 section 3.2.6, built on first use.
var (
	fixedLit, fixedDist huffman
	fixedOnce           = sync.OnceFunc(func() {
		var lens [288]uint8
		for i := range lens {
			switch {
			case i < 144:
				lens[i] = 8
			case i < 256:
				lens[i] = 9
			case i < 280:
				lens[i] = 7
			default:
				lens[i] = 8
			}
		}
		_ = fixedLit.build(lens[:])
		for i := range 30 {
			lens[i] = 5
		}
		_ = fixedDist.build(lens[:30])
	})
)
