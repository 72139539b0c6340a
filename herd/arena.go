package herd

import "sync/atomic"

// The AT lines of a shard live in its arena: large slabs of uint64 words,
// which hold no pointers, so the garbage collector never scans them, and
// which are reused, so a newer location is a copy into the arena, not a new
// heap object.
//
// A record is one header word and the line:
//
//	word 0: line length in bytes (high 32 bits) | sequence (low 32 bits)
//	word 1...: the line's bytes, little-endian, zero-padded to a word
//
// The sequence is a seqlock: the shard's writer (it holds the shard mutex)
// makes it odd, rewrites the line, and makes it even again with the new
// length. A record's size in words follows from its length, and a line is
// rewritten in place only by a line of the same size in words.
// A reader copies the record out and keeps the copy only if word 0 did not
// change meanwhile, so it never sees torn bytes. The header is always
// read and written atomically. The line's words are copied with atomic
// loads and stores word by word when the race detector is on (so it sees
// and checks the protocol: arena_race.go), and with plain copies otherwise
// (arena_norace.go): a copy that raced with a writer is thrown away by the
// check of the sequence, which the Go memory model allows (a racy read
// yields some value, never undefined behaviour).
//
// A record's space keeps its size for ever: space freed when a line moves
// to a record of another size goes to a free list of its size and is taken
// again by the next record of that size. Its sequence
// goes on from where it was, so a reader still copying the old record
// notices the new one.

const (
	slabShift = 13
	slabWords = 1 << slabShift // 64 KiB slabs
	slabMask  = slabWords - 1
	hdrWords  = 1
	// smallClasses is the largest size, in words, whose free list is an
	// array slot; larger (rare, long lines) ones are in a map.
	smallClasses = 64
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

// alloc returns the offset of space for a record of need words. Writer
// only.
func (a *arena) alloc(need int) uint32 {
	if need <= smallClasses {
		if l := a.free[need]; len(l) > 0 {
			a.free[need] = l[:len(l)-1]
			return l[len(l)-1]
		}
	} else if l := a.bigFree[uint32(need)]; len(l) > 0 {
		a.bigFree[uint32(need)] = l[:len(l)-1]
		return l[len(l)-1]
	}
	if need > slabWords {
		return a.addSlab(make([]uint64, need)) << slabShift
	}
	if a.cur == nil || a.curPos+need > slabWords {
		a.cur = make([]uint64, slabWords)
		a.curIdx, a.curPos = a.addSlab(a.cur), 0
	}
	off := a.curIdx<<slabShift | uint32(a.curPos)
	a.curPos += need
	return off
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

// release puts the space at off, of size words, on its free list.
// Writer only.
func (a *arena) release(off uint32, size int) {
	if size <= smallClasses {
		a.free[size] = append(a.free[size], off)
		return
	}
	if a.bigFree == nil {
		a.bigFree = make(map[uint32][]uint32)
	}
	a.bigFree[uint32(size)] = append(a.bigFree[uint32(size)], off)
}

// write stores line in the record at off, under the seqlock: the space
// is fresh, or held a record of the same size in words. Writer only.
func (a *arena) write(off uint32, line []byte) {
	r := a.recordAt(off)
	h0 := atomic.LoadUint64(&r[0])
	seq := uint32(h0) + 1 // odd: being written
	atomic.StoreUint64(&r[0], h0&^0xffffffff|uint64(seq))
	n := len(line)
	copyIn(r[hdrWords:hdrWords+(n+7)/8], line)
	atomic.StoreUint64(&r[0], uint64(n)<<32|uint64(seq+1))
}

// read appends the line of record r to dst and returns it with the header
// word it saw; ok is false if a writer was at work on the record (the
// caller looks again). Any goroutine.
func read(dst []byte, r []uint64) (out []byte, h0 uint64, ok bool) {
	h0 = atomic.LoadUint64(&r[0])
	if h0&1 != 0 {
		return dst, h0, false
	}
	n := int(h0 >> 32)
	words := (n + 7) / 8
	if hdrWords+words > len(r) {
		return dst, h0, false // cannot happen; never read past the slab
	}
	p := len(dst)
	dst = copyOut(dst, r[hdrWords:hdrWords+words])
	if atomic.LoadUint64(&r[0]) != h0 {
		return dst[:p], h0, false
	}
	return dst[:p+n], h0, true
}
