package peer

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"

	"github.com/herdnet/herd/herd"
)

// pending is a link's set of clients whose newest line the neighbour has
// not been sent yet. It holds client ids, not lines: the link reads each
// client's line from the cache when it writes, so every update of a client
// that arrives while it waits is carried by one send of the newest line
// (Scuttlebutt's newest-per-key deltas; memberlist's Invalidates). A client
// is in the set at most once, so the set is bounded by the number of
// clients, never by the update rate, and nothing is ever dropped: a
// neighbour slower than the update rate gets fewer, newer lines.
//
// The ids are kept in arrival order in one byte buffer, each followed by
// "\n", or by 0 once removed (the neighbour turned out to hold the line);
// an open-addressing table of offsets into it answers "already
// waiting?". A table word is gen<<48 | tag<<32 | offset+1 (tag: 16 bits
// of the id's hash, so a probe reads the id only when they match), and a
// word of an older generation is empty, so handing the waiting ids to the link (take) starts
// a new generation instead of clearing the table. push may be called on any
// goroutine and allocates nothing once the buffers have grown; take and
// clear only by the link's.
type pending struct {
	mu    sync.Mutex
	ids   []byte
	n     int           // ids waiting
	used  int           // table words of this generation: ids waiting or removed
	table []uint64      // len a power of two, at most half full
	gen   uint64        // 1..1<<16-1
	first int64         // unix nanoseconds when the oldest waiting id was queued
	seed  maphash.Seed  // the links' (Flood hashes an id once for all of them)
	ready chan struct{} // a token when ids are waiting

	coalesced uint64 // pushes of an id already waiting
	removed   uint64 // ids removed because the neighbour held the line
	held      []byte // the line remove reads from the cache; under mu
}

// newPending returns an empty set whose ids hash with seed.
func newPending(seed maphash.Seed) *pending {
	return &pending{gen: 1, seed: seed, table: make([]uint64, 64), ready: make(chan struct{}, 1)}
}

// push adds id, whose hash under the set's seed is h, unless it is waiting
// already (then the send that comes carries the newest line anyway); now
// tells the time, for the link's lag: push reads it only when id is the
// first to wait, so a flood under load (ids waiting already) reads no
// clock. It reports whether id was added. Non-blocking.
func (q *pending) push(id []byte, h uint64, now func() time.Time) bool {
	q.mu.Lock()
	if 2*(q.used+1) > len(q.table) {
		q.grow()
	}
	mask := uint64(len(q.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		w := q.table[i]
		if w>>48 != q.gen {
			q.table[i] = q.gen<<48 | tag(h) | uint64(len(q.ids)+1)
			q.used++
			q.ids = append(q.ids, id...)
			q.ids = append(q.ids, '\n')
			if q.n++; q.n == 1 {
				q.first = now().UnixNano()
			}
			break
		}
		if w&tagMask != tag(h) {
			continue
		}
		if off := int(uint32(w)) - 1; q.holds(off, id) {
			if end := off + len(id); q.ids[end] == 0 {
				q.ids[end] = '\n' // removed, and wanted again
				if q.n++; q.n == 1 {
					q.first = now().UnixNano()
				}
				break
			}
			q.coalesced++
			q.mu.Unlock()
			return false
		}
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

const tagMask = 0xffff << 32

// tag is the bits of an id's hash its table word keeps.
func tag(h uint64) uint64 { return (h >> 48) << 32 }

// holds reports whether the id at off is id (waiting or removed). Under mu.
func (q *pending) holds(off int, id []byte) bool {
	end := off + len(id)
	return end < len(q.ids) && q.ids[end] <= '\n' && bytes.Equal(q.ids[off:end], id)
}

// remove takes id, whose hash is h, out of the set if it waits there and
// cache still holds line for it: the neighbour holds the newest line
// already. A newer line stored since the caller compared is flooded after
// it is stored, and its push waits for mu: so either remove sees the newer
// line and keeps id, or the push comes after and adds id again. Non-blocking;
// allocates nothing once the buffers have grown.
func (q *pending) remove(id []byte, h uint64, cache *herd.Cache, line []byte) {
	q.mu.Lock()
	var ok bool
	if q.held, ok = cache.AppendLine(q.held[:0], id); !ok || !bytes.Equal(q.held, line) {
		q.mu.Unlock()
		return
	}
	mask := uint64(len(q.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		w := q.table[i]
		if w>>48 != q.gen {
			break
		}
		if w&tagMask != tag(h) {
			continue
		}
		if off := int(uint32(w)) - 1; q.holds(off, id) {
			if end := off + len(id); q.ids[end] == '\n' {
				q.ids[end] = 0
				q.n--
				q.removed++
			}
			break
		}
	}
	q.mu.Unlock()
}

// nextID splits the first id off ids (as take returns them): the id, and
// whether it was removed.
func nextID(ids []byte) (id, rest []byte, removed bool) {
	for i, c := range ids {
		if c <= '\n' {
			return ids[:i], ids[i+1:], c == 0
		}
	}
	return ids, nil, false
}

// grow doubles the table, keeping the waiting ids. Under mu.
func (q *pending) grow() {
	nt := make([]uint64, 2*len(q.table))
	mask := uint64(len(nt) - 1)
	for off, ids := 0, q.ids; len(ids) > 0; {
		id, rest, _ := nextID(ids)
		h := maphash.Bytes(q.seed, id)
		i := h & mask
		for nt[i] != 0 {
			i = (i + 1) & mask
		}
		nt[i] = q.gen<<48 | tag(h) | uint64(off+1)
		off += len(id) + 1
		ids = rest
	}
	q.table = nt
}

// take returns every waiting id (each followed by "\n") and when the
// oldest was queued, and hands spare (a buffer an earlier take returned, or
// nil) to the set for what comes next. The ids stay valid until the caller
// passes them back as spare.
func (q *pending) take(spare []byte) (ids []byte, first int64) {
	q.mu.Lock()
	ids, first = q.ids, q.first
	if len(q.table) > 64 && len(q.table) > 64*q.used {
		// A burst grew the table far beyond the batches now: give the
		// memory back, and keep the probes of the pushes that follow in
		// the CPU caches.
		q.table = make([]uint64, max(64, 1<<bits.Len(uint(4*q.used))))
	}
	q.ids, q.n, q.used, q.first = spare[:0], 0, 0, 0
	q.next()
	q.mu.Unlock()
	return ids, first
}

// next starts a new generation: every table word is empty. Under mu.
func (q *pending) next() {
	if q.gen++; q.gen == 1<<16 {
		clear(q.table)
		q.gen = 1
	}
}

// clear drops every waiting id.
func (q *pending) clear() {
	q.mu.Lock()
	q.ids, q.n, q.used, q.first = q.ids[:0], 0, 0, 0
	q.next()
	q.mu.Unlock()
	select {
	case <-q.ready:
	default:
	}
}

// stats returns how many ids wait, when the oldest was queued (0: none),
// the pushes coalesced and the ids removed so far.
func (q *pending) stats() (n int, first int64, coalesced, removed uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.first, q.coalesced, q.removed
}
