package herd

import (
	"bytes"
	"sync/atomic"
)

// warmBatch is the most client ids Warm looks up at once: enough to cover
// a pipelined read, few enough that their cache lines stay in L1.
const warmBatch = 32

// warmMinPerShard is the clients a shard holds before Warm bothers: 1,024
// per shard is about 65,000 clients in all.
const warmMinPerShard = 1024

// warmProbes is how many index slots from its home warm looks at for a
// client.
const warmProbes = 4

// large reports whether the cache holds more clients than the CPU caches
// keep hot. One shard's count stands for all of them (the hash spreads
// clients evenly), so this is one atomic load.
func (c *Cache) large() bool { return c.shards[0].count.Load() >= warmMinPerShard }

// warm touches, for each client id, the index word where its lookup starts
// and then the record that word points to (every cache line of a typical
// line), so that the lookups that follow find both in the CPU caches. The loads of each pass
// do not depend on each other, so the CPU has them in flight together:
// a batch of cold lookups costs about one memory round trip per pass
// instead of two per lookup. It changes nothing and takes no lock; a word
// or record that moves meanwhile only makes the warming useless. It
// returns how many records it touched (a client missing from the cache, or
// more than warmProbes slots from its home, has none).
func (c *Cache) warm(ids [][]byte) int {
	var (
		shs  [warmBatch]*shard
		tags [warmBatch]uint32
		ixs  [warmBatch]*index
		ws   [warmBatch]uint64
	)
	n := min(len(ids), warmBatch)
	for i := range n {
		shs[i], tags[i] = c.hash(ids[i])
		ixs[i] = shs[i].idx.Load()
	}
	for i := range n {
		ix := ixs[i]
		ws[i] = atomic.LoadUint64(&ix.words[tags[i]&ix.mask])
	}
	touched := 0
	for i := range n {
		// The home word is in the cache now. A client displaced by
		// another with the same home sits a slot or two further on,
		// most often in the same cache line.
		ix, w := ixs[i], ws[i]
		for j := uint32(1); w != 0 && uint32(w>>32) != tags[i] && j < warmProbes; j++ {
			w = atomic.LoadUint64(&ix.words[(tags[i]+j)&ix.mask])
		}
		if w != 0 && uint32(w>>32) == tags[i] {
			touched++
			// An atomic load is never dropped as unused (it orders memory).
			// A record of a typical line (90-odd bytes) spans two or three
			// cache lines; words 0, 8 and 15 are in every one of them.
			r := shs[i].arena.recordAt(uint32(w))
			atomic.LoadUint64(&r[0])
			atomic.LoadUint64(&r[min(8, len(r)-1)])
			atomic.LoadUint64(&r[min(15, len(r)-1)])
		}
	}
	return touched
}

// Warm prepares the cache lookups of the lines at the start of buf (raw
// bytes from a connection, as many complete lines as there are, up to 32):
// it finds the client id of each IAMAT, WHATSAT and AT line written in the
// canonical single-spaced form, and touches the memory their lookups will
// read, all lookups together, before Node.Serve handles the lines one by
// one. It returns how many bytes of buf it looked at (whole lines), so an
// engine calls it again once it has served that far. It changes nothing,
// never allocates, and ignores whatever it does not recognise: Serve still
// parses and judges every line. The engines call it on what clients send,
// the peer links on the AT lines they receive and are about to send, whose
// lookups (is this still the line held?) are as cold as the node's.
//
// It pays when the lines are about clients whose entries are not in the
// CPU caches (a pipelined stream over many clients); it would cost a hash
// per line when they are, so it does nothing (and returns len(buf)) while
// the cache holds fewer than about 65,000 clients (8 MB of lines and
// index), which the CPU caches keep hot anyway.
func (c *Cache) Warm(buf []byte) int {
	if !c.large() {
		return len(buf) // it all fits in the CPU caches: nothing to warm
	}
	var ids [warmBatch][]byte
	k, used := 0, 0
	for k < warmBatch {
		end := bytes.IndexByte(buf[used:], '\n')
		if end < 0 {
			break
		}
		line := buf[used : used+end]
		used += end + 1
		if id := warmID(line); id != nil {
			ids[k] = id
			k++
		}
	}
	if k > 1 { // one lookup alone has nothing to overlap with
		c.warm(ids[:k])
	}
	return used
}

// WarmIDs is Warm for a list of client ids, each followed by "\n" (what a
// peer link is about to read from the cache): it touches the memory of
// the lookups of up to 32 of them and returns how many bytes of buf it
// covered. It changes nothing and never allocates.
func (c *Cache) WarmIDs(buf []byte) int {
	if !c.large() {
		return len(buf)
	}
	var ids [warmBatch][]byte
	k, used := 0, 0
	for k < warmBatch {
		end := bytes.IndexByte(buf[used:], '\n')
		if end < 0 {
			break
		}
		ids[k] = buf[used : used+end]
		k++
		used += end + 1
	}
	if k > 1 {
		c.warm(ids[:k])
	}
	return used
}

// warmID returns the client id of a canonical IAMAT, WHATSAT or AT line,
// or nil.
func warmID(line []byte) []byte {
	field := 1
	switch {
	case bytes.HasPrefix(line, []byte("IAMAT ")):
		line = line[len("IAMAT "):]
	case bytes.HasPrefix(line, []byte("WHATSAT ")):
		line = line[len("WHATSAT "):]
	case bytes.HasPrefix(line, []byte("AT ")):
		line, field = line[len("AT "):], 3
	default:
		return nil
	}
	for ; field > 1; field-- { // AT: skip the origin and the skew
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			return nil
		}
		line = line[i+1:]
	}
	if i := bytes.IndexByte(line, ' '); i > 0 {
		return line[:i]
	}
	return nil
}
