package herd

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/herdnet/herd/codec"
)

// Entry is what a node knows about one client: the newest AT line and the
// client time it carries. An Entry is immutable once published: readers on
// any goroutine may keep and use it without locks.
type Entry struct {
	Stamp codec.Stamp
	// Line is the AT line exactly as the origin node wrote it, without "\n".
	Line         []byte
	idOff, idEnd uint32
}

// ClientID returns the client id inside Line.
func (e *Entry) ClientID() []byte { return e.Line[e.idOff:e.idEnd] }

// newer reports whether (stamp, line) should replace e: a later client time
// wins; equal times are broken by comparing the AT lines as bytes, the larger
// winning, so every node settles on the same line (PROTOCOL.md).
func newer(stamp codec.Stamp, line []byte, e *Entry) bool {
	if c := stamp.Compare(e.Stamp); c != 0 {
		return c > 0
	}
	return bytes.Compare(line, e.Line) > 0
}

func newEntry(clientID []byte, stamp codec.Stamp, line []byte) *Entry {
	// Lines are canonical ("AT origin skew client location time", single
	// spaces): the client id is the fourth field.
	off := fieldStart(line, 3)
	end := off + len(clientID)
	if off < 0 || end > len(line) {
		off, end = 0, 0
	}
	return &Entry{Stamp: stamp, Line: bytes.Clone(line), idOff: uint32(off), idEnd: uint32(end)}
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

// Cache maps client ids to their newest Entry. It is split into shards by a
// hash of the client id; each shard is an open-addressing table whose slots
// are published with atomic stores, so Get never takes a lock. An update of a
// known client is a compare-and-swap on its slot (no lock either); only the
// first sighting of a client takes its shard's mutex, to claim a slot.
// A Cache is safe for concurrent use by any number of goroutines.
type Cache struct {
	seed   maphash.Seed
	shards [numShards]shard
}

const (
	shardBits = 6
	numShards = 1 << shardBits
	minTable  = 64
)

type shard struct {
	mu    sync.Mutex // serialises claiming new slots and growing the table
	tab   atomic.Pointer[table]
	count atomic.Int64
	_     [40]byte // keep shards on separate cache lines
}

type table struct {
	slots []bucket
	mask  uint64
}

// bucket is one table position: the slot and its key's hash, so a probe
// that meets another key is rejected from the table's own (contiguous)
// memory without touching the slot. hash is stored before slot is
// published and never changes afterwards.
type bucket struct {
	hash atomic.Uint64
	slot atomic.Pointer[slot]
}

type slot struct {
	entry atomic.Pointer[Entry]
	key   string // the client id; immutable; points into inline when it fits
	// inline holds short client ids in the slot itself, so that a lookup
	// finds the key in the cache line it already loaded for the slot.
	inline [inlineKey]byte
}

const inlineKey = 40 // slot size 64 bytes: one cache line

func newSlot(key []byte) *slot {
	s := &slot{}
	if len(key) <= inlineKey && len(key) > 0 {
		n := copy(s.inline[:], key)
		s.key = unsafe.String(&s.inline[0], n) // immutable from here on
	} else {
		s.key = string(key)
	}
	return s
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	c := &Cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].tab.Store(newTable(minTable))
	}
	return c
}

func newTable(size int) *table {
	return &table{slots: make([]bucket, size), mask: uint64(size - 1)}
}

func (c *Cache) shardFor(h uint64) *shard { return &c.shards[h>>(64-shardBits)] }

// lookup finds the slot for key in t, or nil.
func (t *table) lookup(key []byte, h uint64) *slot {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		b := &t.slots[i]
		s := b.slot.Load()
		if s == nil || (b.hash.Load() == h && s.key == string(key)) {
			return s
		}
	}
}

// Get returns the newest entry for clientID, or nil. It never blocks.
func (c *Cache) Get(clientID []byte) *Entry {
	h := maphash.Bytes(c.seed, clientID)
	if s := c.shardFor(h).tab.Load().lookup(clientID, h); s != nil {
		return s.entry.Load()
	}
	return nil
}

// Offer stores (stamp, line) for clientID if it is newer than the entry held,
// and returns the entry held afterwards and whether it is the offered one.
// line, an AT line whose fourth field is clientID, is copied only when it is
// stored; a stale offer allocates nothing.
func (c *Cache) Offer(clientID []byte, stamp codec.Stamp, line []byte) (cur *Entry, stored bool) {
	h := maphash.Bytes(c.seed, clientID)
	sh := c.shardFor(h)
	s := sh.tab.Load().lookup(clientID, h)
	if s == nil {
		var e *Entry
		s, e = sh.claim(clientID, h, stamp, line)
		if e != nil {
			return e, true
		}
	}
	var e *Entry
	for {
		old := s.entry.Load()
		if !newer(stamp, line, old) {
			return old, false
		}
		if e == nil {
			e = newEntry(clientID, stamp, line)
		}
		if s.entry.CompareAndSwap(old, e) {
			return e, true
		}
	}
}

// claim finds or creates the slot for key under the shard lock. When it
// creates the slot it stores a new entry and returns it too.
func (sh *shard) claim(key []byte, h uint64, stamp codec.Stamp, line []byte) (*slot, *Entry) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.tab.Load()
	if s := t.lookup(key, h); s != nil {
		return s, nil
	}
	n := sh.count.Load() + 1
	if uint64(n)*2 > uint64(len(t.slots)) { // keep probes short: at most half full
		t = t.grow()
		sh.tab.Store(t)
	}
	s := newSlot(key)
	e := newEntry(key, stamp, line)
	s.entry.Store(e)
	t.insert(s, h)
	sh.count.Store(n)
	return s, e
}

func (t *table) insert(s *slot, h uint64) {
	i := h & t.mask
	for t.slots[i].slot.Load() != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i].hash.Store(h)
	t.slots[i].slot.Store(s)
}

// grow returns a table twice the size holding every slot of t. Readers still
// probing t see a complete, consistent (if slightly older) table.
func (t *table) grow() *table {
	nt := newTable(len(t.slots) * 2)
	for i := range t.slots {
		if s := t.slots[i].slot.Load(); s != nil {
			nt.insert(s, t.slots[i].hash.Load())
		}
	}
	return nt
}

// Len returns the number of clients held.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		n += int(c.shards[i].count.Load())
	}
	return n
}

// Range calls fn for every entry until fn returns false. It takes no locks
// and sees each client's entry as it is when visited: entries stored
// concurrently may or may not be seen. It is how a link pushes a node's whole
// view to a neighbour that (re)connects.
func (c *Cache) Range(fn func(*Entry) bool) {
	for i := range c.shards {
		t := c.shards[i].tab.Load()
		for j := range t.slots {
			if s := t.slots[j].slot.Load(); s != nil {
				if !fn(s.entry.Load()) {
					return
				}
			}
		}
	}
}
