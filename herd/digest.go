package herd

import (
	"encoding/binary"
	"math/bits"
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

// digest is a running summary of the cache as changed through the node:
// how many clients it holds and the sum of LineHash over their lines. Peer
// links compare it with a neighbour's to learn in O(1) that two caches
// agree. Each store reports the hash of the line it replaced, read under
// the cache shard's mutex, so concurrent stores keep it exact; only a walk
// racing with a store (ResetDigest) can skew it. A skewed digest only makes
// links compare bucket by bucket (they then walk the cache), never hides a
// difference, and the first walk made while no store happened corrects it.
type digest struct {
	gen   atomic.Uint64 // counts stores
	count atomic.Uint64
	sum   atomic.Uint64
}

// replace accounts for a line hashing to cur taking the place of one
// hashing to old (replaced false: a new client). It never allocates.
func (d *digest) replace(old uint64, replaced bool, cur uint64) {
	d.gen.Add(1)
	if replaced {
		d.sum.Add(cur - old)
	} else {
		d.count.Add(1)
		d.sum.Add(cur)
	}
}

// Digest returns the number of clients the node holds and the sum of
// LineHash over their AT lines, as kept up to date by the node's stores.
// Any goroutine.
func (n *Node) Digest() (count, sum uint64) {
	return n.digest.count.Load(), n.digest.sum.Load()
}

// DigestGen returns a counter that every store advances. A walk of the
// cache that starts and ends with the same value saw no store.
func (n *Node) DigestGen() uint64 { return n.digest.gen.Load() }

// ResetDigest sets the running digest to (count, sum), the result of a walk
// of the cache that started when DigestGen returned gen, unless a store
// happened since. It reports whether it did. Any goroutine.
func (n *Node) ResetDigest(gen, count, sum uint64) bool {
	if n.digest.gen.Load() != gen {
		return false
	}
	n.digest.count.Store(count)
	n.digest.sum.Store(sum)
	return true
}
