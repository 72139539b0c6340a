package herd

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
)

// LineHash is a fixed 64-bit hash of an AT line: unseeded, so every node
// computes the same value for the same line (peer links compare cache
// digests built from it). 8-byte rounds in the manner of xxHash64, then
// murmur3's finaliser. It never allocates.
func LineHash(b []byte) uint64 {
	const (
		k1 = 0x9E3779B185EBCA87
		k2 = 0xC2B2AE3D27D4EB4F
		k3 = 0x165667B19E3779F9
	)
	h := uint64(len(b))*k3 + k1
	for len(b) >= 8 {
		h ^= bits.RotateLeft64(binary.LittleEndian.Uint64(b)*k2, 31) * k1
		h = bits.RotateLeft64(h, 27)*k1 + k3
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h ^= bits.RotateLeft64(t*k2, 31) * k1
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// DigestBits is the finest digest the node keeps: 1<<DigestBits bucket
// sums (128 KB, small enough to stay mostly in the CPU caches although
// every store updates one; a million clients are 64 a bucket). A client's bucket is the top bits of ClientHash of its id, so it
// never changes and every node puts it in the same bucket; a bucket's sum
// is the sum of LineHash over its clients' lines.
const DigestBits = 14

// ClientHash is the fixed hash of a client id that picks its digest
// bucket: the same on every node.
func ClientHash(id []byte) uint64 { return LineHash(id) }

// digest is a running summary of the cache as changed through the node:
// how many clients it holds, the sum of LineHash over their lines, the
// same sum per bucket, and the clients of each group of buckets. Each
// store reports the hash of the line it replaced, read under the cache
// shard's mutex, so concurrent stores keep it exact. Peer links compare
// it with a neighbour's: in O(1) whether two caches agree, in
// O(buckets) which buckets differ, and they read only the clients of
// those buckets, never walking the cache.
type digest struct {
	count atomic.Uint64
	sum   atomic.Uint64
	sums  []atomic.Uint64 // 1<<DigestBits

	// A new client's id is appended to a log (one of newLogs, picked by
	// its bucket, so stores on several loops rarely meet), written in
	// sequence, which costs a store next to nothing; RangeBuckets moves
	// the logged ids into per-bucket lists, under listMu, when a sync
	// first needs them. Each id is followed by "\n".
	logs   [newLogs]idLog
	listMu sync.Mutex
	lists  [][]byte // 1<<DigestBits
}

const newLogs = 16

type idLog struct {
	mu  sync.Mutex
	ids []byte
	_   [64]byte // keep the logs' locks on separate cache lines
}

func (d *digest) init() {
	d.sums = make([]atomic.Uint64, 1<<DigestBits)
	d.lists = make([][]byte, 1<<DigestBits)
}

// replace accounts for id's line hashing to cur taking the place of one
// hashing to old (replaced false: a new client). It allocates only to
// log a new client (amortised).
func (d *digest) replace(id []byte, old uint64, replaced bool, cur uint64) {
	b := ClientHash(id) >> (64 - DigestBits)
	d.sums[b].Add(cur - old)
	if replaced {
		d.sum.Add(cur - old)
		return
	}
	d.count.Add(1)
	d.sum.Add(cur)
	l := &d.logs[b%newLogs]
	l.mu.Lock()
	l.ids = append(append(l.ids, id...), '\n')
	l.mu.Unlock()
}

// file moves the logged ids into their buckets' lists. Under listMu.
func (d *digest) file() {
	for i := range d.logs {
		l := &d.logs[i]
		l.mu.Lock()
		ids := l.ids
		l.ids = nil
		l.mu.Unlock()
		for len(ids) > 0 {
			k := bytes.IndexByte(ids, '\n')
			b := ClientHash(ids[:k]) >> (64 - DigestBits)
			d.lists[b] = append(d.lists[b], ids[:k+1]...)
			ids = ids[k+1:]
		}
	}
}

// Digest returns the number of clients the node holds and the sum of
// LineHash over their AT lines, as kept up to date by the node's stores.
// Any goroutine.
func (n *Node) Digest() (count, sum uint64) {
	return n.digest.count.Load(), n.digest.sum.Load()
}

// DigestSums appends to dst the 1<<bits bucket sums of the node's running
// digest (bits at most DigestBits): bucket i holds the clients whose
// ClientHash has i in its top bits. It costs O(1<<DigestBits) additions and
// reads no line. Any goroutine.
func (n *Node) DigestSums(dst []uint64, bits uint) []uint64 {
	per := 1 << (DigestBits - bits)
	sums := n.digest.sums
	for i := 0; i < len(sums); i += per {
		var s uint64
		for j := i; j < i+per; j++ {
			s += sums[j].Load()
		}
		dst = append(dst, s)
	}
	return dst
}

// RangeBuckets calls fn with the AT line of every client in the buckets
// of a digest of 1<<bits buckets (bits at most DigestBits) that want marks
// (len(want) == 1<<bits), until fn returns false. It reads only those
// buckets' clients, so its cost follows the buckets asked for, not the
// cache. The line is valid only during the call. Any goroutine.
func (n *Node) RangeBuckets(bits uint, want []bool, fn func(line []byte) bool) {
	var ids, line []byte
	per := uint64(1) << (DigestBits - bits)
	for b, ok := range want {
		if !ok {
			continue
		}
		d := &n.digest
		d.listMu.Lock()
		d.file()
		ids = ids[:0]
		for f := uint64(b) * per; f < uint64(b+1)*per; f++ {
			ids = append(ids, d.lists[f]...)
		}
		d.listMu.Unlock()
		for len(ids) > 0 {
			i := bytes.IndexByte(ids, '\n')
			id := ids[:i]
			ids = ids[i+1:]
			var ok bool
			if line, ok = n.cache.AppendLine(line[:0], id); ok && !fn(line) {
				return
			}
		}
	}
}
