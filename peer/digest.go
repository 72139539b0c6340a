package peer

import (
	"bufio"
	"bytes"
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
// every node), its bucket the top bits of a fixed hash of its client id (so
// a client stays in its bucket as its line changes), a bucket's sum the sum
// of its entries' hashes, and the root the sum of them all. The node keeps
// count, root and every bucket's sum up to date as it stores (herd.Node.Digest,
// DigestSums) and lists its clients by bucket (RangeBuckets), so equal roots
// and counts end the exchange after one round trip of two short lines, a
// DIGEST costs O(buckets) additions, and HAVE and the lines sent read only
// the clients of the buckets that differ: no side walks its cache. When R is
// empty, S skips WANT and sends everything. Binary payloads are
// little-endian. (Nodes of earlier versions bucketed entries by their line's
// hash: a sync with one still ends with R holding everything S holds, but
// sends more than it needs.)

const (
	minBucketBits = 10
	// maxBucketBits bounds the digests a neighbour may ask for; this node
	// asks for at most herd.DigestBits, the digest it keeps running (a
	// finer one, asked for by a node of an earlier version, takes a walk).
	maxBucketBits = 20
	// maxHave bounds a HAVE payload: 32 M entry hashes.
	maxHave = 256 << 20
)

// bucketBits picks the digest size for a cache of n entries: about 16
// entries a bucket, between 1024 buckets and the node's running digest's
// 1<<herd.DigestBits.
func bucketBits(n int) uint {
	b := uint(bits.Len(uint(n / 16)))
	return min(max(b, minBucketBits), herd.DigestBits)
}

func lineHash(b []byte) uint64 { return herd.LineHash(b) }

// digest is a summary of a cache.
type digest struct {
	bits  uint
	count uint64
	root  uint64
	sums  []uint64
}

// makeDigest sums every entry of c into 1<<bits buckets by walking it: for
// links without a node (tests and tools); a node keeps its digest running.
func makeDigest(c *herd.Cache, b uint) *digest {
	d := &digest{bits: b, sums: make([]uint64, 1<<b)}
	c.Range(func(id []byte, _ codec.Stamp, line []byte) bool {
		h := lineHash(line)
		d.sums[herd.ClientHash(id)>>(64-b)] += h
		d.root += h
		d.count++
		return true
	})
	return d
}

// digestOf returns this node's digest in 1<<b buckets: the node's running
// one, or, before Start gave the links a node, a walk of the cache.
func (ls *Links) digestOf(b uint) *digest {
	if ls.node == nil || b > herd.DigestBits {
		return makeDigest(ls.cfg.Cache, b)
	}
	d := &digest{bits: b}
	d.count, d.root = ls.node.Digest()
	d.sums = ls.node.DigestSums(make([]uint64, 0, 1<<b), b)
	return d
}

// rangeBuckets calls fn with the line of every entry in the buckets marked
// in want: through the node's lists of clients by bucket, or a walk of the
// cache without a node (or for a digest finer than the node keeps).
func (ls *Links) rangeBuckets(b uint, want []bool, fn func(line []byte) bool) {
	if ls.node != nil && b <= herd.DigestBits {
		ls.node.RangeBuckets(b, want, fn)
		return
	}
	ls.cfg.Cache.Range(func(id []byte, _ codec.Stamp, line []byte) bool {
		if want[herd.ClientHash(id)>>(64-b)] {
			return fn(line)
		}
		return true
	})
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

// hashesIn returns the hashes of this node's entries in the buckets marked
// in want.
func (ls *Links) hashesIn(b uint, want []bool) []uint64 {
	var out []uint64
	ls.rangeBuckets(b, want, func(line []byte) bool {
		out = append(out, lineHash(line))
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
	// Grown as the bytes arrive, so that a header alone costs nothing.
	var b bytes.Buffer
	b.Grow(min(n, 64<<10))
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b.Bytes(), nil
}
