package peer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// Digest sync (docs/PROTOCOL.md, "Digest sync"). Each side of a link repairs
// its own direction: the node that dialled (the sender S) makes sure the
// acceptor (the receiver R) holds every entry S holds, or a newer one.
//
//	S: SYNC bits count root          S's digest in brief
//	R: DIGEST count n, n bytes       R's bucket sums, or n = 0: nothing to do
//	S: WANT n, n bytes               the buckets that differ (uint32 each)
//	R: HAVE n, n bytes               R's entry hashes in those buckets (uint64 each)
//	S: AT ... lines                  S's entries in those buckets that R lacks
//
// Every entry's hash is a fixed 64-bit hash of its AT line (the same bytes on
// every node), its bucket the hash's top bits, a bucket's sum the sum of its
// entries' hashes, and the root the sum of them all. The node keeps count and
// root up to date as it stores (herd.Node.Digest), so equal roots and counts
// end the exchange after one round trip of two short lines without walking
// either cache; only then are bucket sums computed. When R is empty,
// S skips WANT and sends everything. Binary payloads are little-endian.

const (
	minBucketBits = 10
	maxBucketBits = 20
	// maxHave bounds a HAVE payload: 32 M entry hashes.
	maxHave = 256 << 20
)

// bucketBits picks the digest size for a cache of n entries: about 16
// entries a bucket, between 1024 and 1M buckets.
func bucketBits(n int) uint {
	b := uint(bits.Len(uint(n / 16)))
	return min(max(b, minBucketBits), maxBucketBits)
}

func lineHash(b []byte) uint64 { return herd.LineHash(b) }

// digest is a summary of a cache.
type digest struct {
	bits  uint
	count uint64
	root  uint64
	sums  []uint64
}

// makeDigest sums every entry of c into 1<<bits buckets.
func makeDigest(c *herd.Cache, b uint) *digest {
	d := &digest{bits: b, sums: make([]uint64, 1<<b)}
	c.Range(func(_ []byte, _ codec.Stamp, line []byte) bool {
		h := lineHash(line)
		d.sums[h>>(64-b)] += h
		d.root += h
		d.count++
		return true
	})
	return d
}

// walkDigest makes a digest of the cache and, when no store happened
// during the walk, corrects the node's running count and root with it.
func (ls *Links) walkDigest(b uint) *digest {
	if ls.node == nil {
		return makeDigest(ls.cfg.Cache, b)
	}
	gen := ls.node.DigestGen()
	d := makeDigest(ls.cfg.Cache, b)
	if c, r := ls.node.Digest(); c != d.count || r != d.root {
		ls.node.ResetDigest(gen, d.count, d.root)
	}
	return d
}

// differing returns the buckets where d and the other side's sums differ.
func (d *digest) differing(other []uint64) []uint32 {
	var out []uint32
	for i, s := range d.sums {
		if s != other[i] {
			out = append(out, uint32(i))
		}
	}
	return out
}

// hashesIn returns the hashes of c's entries in the buckets marked in want.
func hashesIn(c *herd.Cache, b uint, want []bool) []uint64 {
	var out []uint64
	c.Range(func(_ []byte, _ codec.Stamp, line []byte) bool {
		if h := lineHash(line); want[h>>(64-b)] {
			out = append(out, h)
		}
		return true
	})
	return out
}

// bucketSet turns bucket numbers into a mark per bucket.
func bucketSet(b uint, buckets []uint32) []bool {
	want := make([]bool, 1<<b)
	for _, i := range buckets {
		if int(i) < len(want) {
			want[i] = true
		}
	}
	return want
}

func appendU64s(dst []byte, v []uint64) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint64(dst, x)
	}
	return dst
}

func u64s(b []byte) []uint64 {
	out := make([]uint64, len(b)/8)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return out
}

func appendU32s(dst []byte, v []uint32) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, x)
	}
	return dst
}

func u32s(b []byte) []uint32 {
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// writeBlob writes "word args... n\n" and n payload bytes, and flushes.
func writeBlob(w *bufio.Writer, word string, args []string, payload []byte) error {
	_, _ = w.WriteString(word)
	for _, a := range args {
		_ = w.WriteByte(' ')
		_, _ = w.WriteString(a)
	}
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(strconv.Itoa(len(payload)))
	_ = w.WriteByte('\n')
	_, _ = w.Write(payload)
	return w.Flush()
}

var errBadSync = errors.New("peer: bad sync message")

// readBlob reads n payload bytes (n at most limit, a multiple of unit).
func readBlob(r *bufio.Reader, nField []byte, limit, unit int) ([]byte, error) {
	n, err := strconv.Atoi(string(nField))
	if err != nil || n < 0 || n > limit || n%unit != 0 {
		return nil, fmt.Errorf("%w: payload of %q bytes", errBadSync, nField)
	}
	buf := make([]byte, n)
	_, err = io.ReadFull(r, buf)
	return buf, err
}
