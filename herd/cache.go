package herd

import (
	"bytes"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/herdnet/herd/codec"
)

// Entry is a copy of what a node knows about one client: the newest AT line
// and the client time it carries. It belongs to whoever asked for it; the
// cache keeps its own bytes in its arenas.
type Entry struct {
	Stamp codec.Stamp
	// Line is the AT line exactly as the origin node wrote it, without "\n".
	Line []byte
}

// ClientID returns the client id inside Line (its fourth field).
func (e *Entry) ClientID() []byte { return lineClientID(e.Line) }

// lineClientID returns the fourth field of a single-spaced AT line.
func lineClientID(line []byte) []byte {
	off := fieldStart(line, 3)
	if off < 0 {
		return nil
	}
	end := bytes.IndexByte(line[off:], ' ')
	if end < 0 {
		return line[off:]
	}
	return line[off : off+end]
}

// lineStamp returns the client time of a stored (valid, canonical) AT line:
// its last field.
func lineStamp(line []byte) codec.Stamp {
	st, _ := codec.ParseStamp(line[bytes.LastIndexByte(line, ' ')+1:])
	return st
}

// newer reports whether (stamp, line) should replace the held line: a later
// client time wins; equal times are broken by comparing the AT lines as
// bytes, the larger winning, so every node settles on the same line
// (docs/PROTOCOL.md, Newest wins).
func newer(stamp codec.Stamp, line, held []byte) bool {
	if c := stamp.Compare(lineStamp(held)); c != 0 {
		return c > 0
	}
	return bytes.Compare(line, held) > 0
}

// idStart is fieldStart(line, 3), the client id's offset in an AT line,
// in one short loop (origin and skew are a few bytes each).
func idStart(line []byte) int {
	spaces := 0
	for i, c := range line {
		if c == ' ' {
			if spaces++; spaces == 3 {
				return i + 1
			}
		}
	}
	return -1
}

// fieldStart returns the offset of field k (k >= 1) of a single-spaced line,
// or -1.
func fieldStart(line []byte, k int) int {
	i := 0
	for ; k > 0; k-- {
		j := bytes.IndexByte(line[i:], ' ')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return i
}

// Cache maps client ids to their newest AT line. It is split into shards by
// a hash of the client id. Each shard keeps its lines in an arena of
// pointer-free slabs (arena.go) and finds them through an index: an
// open-addressing table of words, each a 32-bit hash tag and the 32-bit
// offset of the client's record, so a lookup touches one index cache line
// and then the record itself. Reads take no lock: they copy the record out
// under its seqlock and check that the index still pointed at it. Writes
// (a newer line, a new client) take the shard's mutex; an offer that is not
// newer than the held line takes no lock either.
// A Cache is safe for concurrent use by any number of goroutines.
type Cache struct {
	seed   maphash.Seed
	shards [numShards]shard
}

const (
	shardBits = 6
	numShards = 1 << shardBits
	minIndex  = 64
)

type shard struct {
	idx   atomic.Pointer[index]
	count atomic.Int64
	mu    sync.Mutex // the writer's: records, index slots, growth
	arena arena
	_     [64]byte // keep shards' hot words on separate cache lines
}

// index is a shard's table. A word is tag<<32 | offset; 0 is empty. A
// client's position is its tag modulo the size, so growing needs no
// hashing: the word says where it goes.
type index struct {
	words []uint64
	mask  uint32
}

func newIndex(size int) *index {
	return &index{words: make([]uint64, size), mask: uint32(size - 1)}
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	c := &Cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].idx.Store(newIndex(minIndex))
	}
	return c
}

func (c *Cache) hash(clientID []byte) (*shard, uint32) {
	h := maphash.Bytes(c.seed, clientID)
	return &c.shards[h>>(64-shardBits)], uint32(h >> (64 - shardBits - 32))
}

// ref is where find found a client: enough for the writer to tell, under
// the lock, that nothing moved since.
type ref struct {
	ix  *index
	pos uint32
	w   uint64 // the index word
	h0  uint64 // the record's header word
}

// find appends the line held for key (whose tag is tag) to dst. Any
// goroutine, no lock.
func (sh *shard) find(dst, key []byte, tag uint32) ([]byte, ref, bool) {
	p := len(dst)
	spins := 0
again:
	ix := sh.idx.Load()
	for i := tag & ix.mask; ; i = (i + 1) & ix.mask {
		for {
			if spins++; spins%64 == 0 {
				runtime.Gosched() // let a descheduled writer finish its record
			}
			w := atomic.LoadUint64(&ix.words[i])
			if w == 0 {
				return dst, ref{}, false
			}
			if uint32(w>>32) != tag {
				break
			}
			out, h0, ok := read(dst, sh.arena.recordAt(uint32(w)))
			if !ok {
				continue // a writer is at it: read the slot again
			}
			line := out[p:]
			if idOff := idStart(line); idOff >= 0 && idOff+len(key) < len(line) &&
				line[idOff+len(key)] == ' ' && string(line[idOff:idOff+len(key)]) == string(key) {
				return out, ref{ix, i, w, h0}, true
			}
			// Another client with the same tag, or a record reused since
			// the slot was read: then the slot has changed too.
			if atomic.LoadUint64(&ix.words[i]) == w {
				if sh.idx.Load() != ix {
					goto again // a grown table may hold the client elsewhere
				}
				break
			}
		}
	}
}

// current reports whether r still describes the client's record. Writer.
func (sh *shard) current(r ref) bool {
	return sh.idx.Load() == r.ix && atomic.LoadUint64(&r.ix.words[r.pos]) == r.w &&
		atomic.LoadUint64(&sh.arena.recordAt(uint32(r.w))[0]) == r.h0
}

// AppendLine appends the line held for clientID to dst. It never blocks
// and never allocates (beyond growing dst).
func (c *Cache) AppendLine(dst, clientID []byte) ([]byte, bool) {
	sh, tag := c.hash(clientID)
	out, _, ok := sh.find(dst, clientID, tag)
	return out, ok
}

// Get returns a copy of the entry held for clientID, or nil. It never
// blocks; it allocates the copy.
func (c *Cache) Get(clientID []byte) *Entry {
	line, ok := c.AppendLine(nil, clientID)
	if !ok {
		return nil
	}
	return &Entry{Stamp: lineStamp(line), Line: line}
}

// Offer is OfferAppend returning a copy of the entry held afterwards (it
// allocates; tests and tools use it).
func (c *Cache) Offer(clientID []byte, stamp codec.Stamp, line []byte) (cur *Entry, stored bool) {
	out, stored := c.OfferAppend(nil, clientID, stamp, line)
	if stored {
		out = bytes.Clone(line)
	}
	return &Entry{Stamp: lineStamp(out), Line: out}, stored
}

// OfferAppend stores line for clientID if (stamp, line) is newer than the
// line held. line must be a canonical AT line (single spaces) whose fourth
// field is clientID, and stamp its time. It reports whether it stored the
// line; if it did not, it appends the line held to dst. The cache copies
// line into its arena: the caller may reuse it at once. An offer that is
// not newer takes no lock; no offer allocates once the shard's arena has
// room (slabs are 64 KiB, reused).
func (c *Cache) OfferAppend(dst, clientID []byte, stamp codec.Stamp, line []byte) ([]byte, bool) {
	out, stored, _, _ := c.offerAppend(dst, clientID, stamp, line)
	return out, stored
}

// offerAppend is OfferAppend that also reports, when it stored line in
// place of an older one (replaced), the LineHash of the line it replaced,
// read under the shard's mutex, so the node's digest learns exactly what
// left the cache without a copy of it.
func (c *Cache) offerAppend(dst, clientID []byte, stamp codec.Stamp, line []byte) (out []byte, stored bool, oldHash uint64, replaced bool) {
	sh, tag := c.hash(clientID)
	p := len(dst)
	out, r, found := sh.find(dst, clientID, tag)
	if found && !newer(stamp, line, out[p:]) {
		return out, false, 0, false
	}
	sh.mu.Lock()
	if !found || !sh.current(r) {
		// A writer got there first: look again, now that none can.
		out, r, found = sh.find(dst, clientID, tag)
		if found && !newer(stamp, line, out[p:]) {
			sh.mu.Unlock()
			return out, false, 0, false
		}
	}
	idOff := fieldStart(line, 3)
	if idOff < 0 || idOff+len(clientID) > len(line) || string(line[idOff:idOff+len(clientID)]) != string(clientID) {
		sh.mu.Unlock()
		panic("herd: Cache.OfferAppend: the line's fourth field is not the client id")
	}
	if found {
		oldHash = LineHash(out[p:]) // the record as it is: no writer but us
		sh.replace(r, line)
	} else {
		sh.insert(tag, line)
	}
	sh.mu.Unlock()
	return dst, true, oldHash, found
}

// replace puts line in place of the record r points to: in place if it
// has the same size in words, else in another record. Writer.
func (sh *shard) replace(r ref, line []byte) {
	a := &sh.arena
	need := recordWords(len(line))
	size := recordWords(int(r.h0 >> 32))
	off := uint32(r.w)
	if need == size {
		a.write(off, line)
		return
	}
	noff := a.alloc(need)
	a.write(noff, line)
	atomic.StoreUint64(&r.ix.words[r.pos], r.w&^0xffffffff|uint64(noff))
	a.release(off, size)
}

// insert stores the first line of a client. Writer.
func (sh *shard) insert(tag uint32, line []byte) {
	ix := sh.idx.Load()
	n := sh.count.Load() + 1
	if uint64(n)*4 > uint64(len(ix.words))*3 { // keep probes short: at most 3/4 full
		ix = ix.grow()
		sh.idx.Store(ix)
	}
	off := sh.arena.alloc(recordWords(len(line)))
	sh.arena.write(off, line)
	ix.put(uint64(tag)<<32 | uint64(off))
	sh.count.Store(n)
}

func (ix *index) put(w uint64) {
	i := uint32(w>>32) & ix.mask
	for atomic.LoadUint64(&ix.words[i]) != 0 {
		i = (i + 1) & ix.mask
	}
	atomic.StoreUint64(&ix.words[i], w)
}

// grow returns a table twice the size holding every word of ix. Readers
// still probing ix see a complete, consistent (if older) table.
func (ix *index) grow() *index {
	nx := newIndex(len(ix.words) * 2)
	for i := range ix.words {
		if w := atomic.LoadUint64(&ix.words[i]); w != 0 {
			nx.put(w)
		}
	}
	return nx
}

// Len returns the number of clients held.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		n += int(c.shards[i].count.Load())
	}
	return n
}

// Range calls fn with the client id, client time and AT line of every
// client until fn returns false. The slices are valid only during the call.
// Shard by shard, it copies the lines out under the shard's mutex (holding
// back that shard's writers for the copy, never readers) and calls fn
// without it: each client is visited once, and updates stored concurrently
// may or may not be seen. It is how a link pushes a node's whole view to a
// neighbour that (re)connects; it allocates a buffer the size of a shard.
func (c *Cache) Range(fn func(clientID []byte, stamp codec.Stamp, line []byte) bool) {
	var buf []byte
	var ends []int
	for i := range c.shards {
		sh := &c.shards[i]
		buf, ends = buf[:0], ends[:0]
		sh.mu.Lock()
		ix := sh.idx.Load()
		for j := range ix.words {
			if w := atomic.LoadUint64(&ix.words[j]); w != 0 {
				buf, _, _ = read(buf, sh.arena.recordAt(uint32(w))) // no writer: always ok
				ends = append(ends, len(buf))
			}
		}
		sh.mu.Unlock()
		start := 0
		for _, end := range ends {
			line := buf[start:end:end]
			start = end
			if !fn(lineClientID(line), lineStamp(line), line) {
				return
			}
		}
	}
}
