package herd

import (
	"encoding/binary"
	"sync/atomic"
)

// The AT lines of a shard live in its arena: large slabs of uint64 words,
// which hold no pointers, so the garbage collector never scans them, and
// which are reused, so a newer location is a copy into the arena, not a new
// heap object.
//
// A record is two header words and the line:
//
//	word 0: capacity in words (high 32 bits) | sequence (low 32 bits)
//	word 1: offset of the client id in the line (high) | line length (low)
//	word 2...: the line's bytes, little-endian, zero-padded to a word
//
// The sequence is a seqlock: the shard's writer (it holds the shard mutex)
// makes it odd, rewrites word 1 and the line, and makes it even again.
// A reader copies the record out and keeps the copy only if word 0 did not
// change meanwhile, so it never sees torn bytes. Every access to a record
// word is an atomic load or store: the race detector sees the protocol,
// and on amd64 and arm64 an atomic load is a plain load.
//
// A record's space keeps its capacity for ever: space freed when a line
// moves to a record of another size goes to a free list of its capacity
// and is taken again by the next record of that capacity. Its sequence
// goes on from where it was, so a reader still copying the old record
// notices the new one.

const (
	slabShift = 13
	slabWords = 1 << slabShift // 64 KiB slabs
	slabMask  = slabWords - 1
	hdrWords  = 2
	// smallClasses is the largest capacity, in words, whose free list is an
	// array slot; larger (rare, long lines) ones are in a map.
	smallClasses = 64
	// inPlaceSlack is how many words a line may leave unused in its record
	// before it moves to a smaller one: lines of one client change length
	// by a few bytes, and rewriting in place is cheaper than moving.
	inPlaceSlack = 2
)

// arena is a shard's record store. Readers use recordAt; everything else
// is for the shard's writer, under the shard mutex.
type arena struct {
	// slabs is the slab directory, copied on append. Entry 0 is never a
	// slab, so no record's offset is 0. An offset is slab<<slabShift | word;
	// a record longer than a slab has a slab of its own, at word 0.
	slabs atomic.Pointer[[][]uint64]

	cur     []uint64 // the slab being filled
	curIdx  uint32
	curPos  int
	free    [smallClasses + 1][]uint32
	bigFree map[uint32][]uint32
}

func recordWords(lineLen int) int { return hdrWords + (lineLen+7)/8 }

// recordAt returns the record at off: the words from its header to the
// end of its slab. Any goroutine.
func (a *arena) recordAt(off uint32) []uint64 {
	return (*a.slabs.Load())[off>>slabShift][off&slabMask:]
}

// alloc returns the offset and capacity of space for a record of need
// words. Writer only.
func (a *arena) alloc(need int) (uint32, int) {
	if need <= smallClasses {
		if l := a.free[need]; len(l) > 0 {
			off := l[len(l)-1]
			a.free[need] = l[:len(l)-1]
			return off, need
		}
	} else if l := a.bigFree[uint32(need)]; len(l) > 0 {
		off := l[len(l)-1]
		a.bigFree[uint32(need)] = l[:len(l)-1]
		return off, need
	}
	if need > slabWords {
		idx := a.addSlab(make([]uint64, need))
		return idx << slabShift, need
	}
	if a.cur == nil || a.curPos+need > slabWords {
		a.cur = make([]uint64, slabWords)
		a.curIdx, a.curPos = a.addSlab(a.cur), 0
	}
	off := a.curIdx<<slabShift | uint32(a.curPos)
	a.curPos += need
	return off, need
}

func (a *arena) addSlab(s []uint64) uint32 {
	var old [][]uint64
	if p := a.slabs.Load(); p != nil {
		old = *p
	} else {
		old = [][]uint64{nil}
	}
	n := make([][]uint64, len(old)+1, len(old)+1+len(old)/2)
	copy(n, old)
	n[len(old)] = s
	a.slabs.Store(&n)
	return uint32(len(old))
}

// release puts the space at off, of capacity capW, on its free list.
// Writer only.
func (a *arena) release(off uint32, capW int) {
	if capW <= smallClasses {
		a.free[capW] = append(a.free[capW], off)
		return
	}
	if a.bigFree == nil {
		a.bigFree = make(map[uint32][]uint32)
	}
	a.bigFree[uint32(capW)] = append(a.bigFree[uint32(capW)], off)
}

// write stores line (whose client id starts at idOff) in the record at off
// of capacity capW, under the seqlock. Writer only.
func (a *arena) write(off uint32, capW int, line []byte, idOff int) {
	r := a.recordAt(off)
	seq := uint32(atomic.LoadUint64(&r[0])) + 1 // odd: being written
	atomic.StoreUint64(&r[0], uint64(capW)<<32|uint64(seq))
	atomic.StoreUint64(&r[1], uint64(idOff)<<32|uint64(len(line)))
	w := r[hdrWords:]
	k := 0
	for ; len(line) >= 8; k++ {
		atomic.StoreUint64(&w[k], binary.LittleEndian.Uint64(line))
		line = line[8:]
	}
	if len(line) > 0 {
		var last [8]byte
		copy(last[:], line)
		atomic.StoreUint64(&w[k], binary.LittleEndian.Uint64(last[:]))
	}
	atomic.StoreUint64(&r[0], uint64(capW)<<32|uint64(seq+1))
}

// read appends the line of record r to dst and returns it with the header
// word it saw and the client id's offset in the line; ok is false if a
// writer was at work on the record (the caller looks again). Any goroutine.
func read(dst []byte, r []uint64) (out []byte, h0 uint64, idOff int, ok bool) {
	h0 = atomic.LoadUint64(&r[0])
	if h0&1 != 0 {
		return dst, h0, 0, false
	}
	h1 := atomic.LoadUint64(&r[1])
	n, idOff := int(uint32(h1)), int(h1>>32)
	words := (n + 7) / 8
	if hdrWords+words > int(h0>>32) || hdrWords+words > len(r) {
		return dst, h0, 0, false // word 1 of a later version: h0 will not match
	}
	p := len(dst)
	for k := hdrWords; k < hdrWords+words; k++ {
		dst = binary.LittleEndian.AppendUint64(dst, atomic.LoadUint64(&r[k]))
	}
	if atomic.LoadUint64(&r[0]) != h0 {
		return dst[:p], h0, 0, false
	}
	return dst[:p+n], h0, idOff, true
}
