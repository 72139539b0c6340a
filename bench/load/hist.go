package load

import (
	"math"
	"math/bits"
	"sync"
)

// subBits sets the histogram's resolution: 2^subBits sub-buckets per power
// of two, a relative error below 1/2^subBits (0.8%).
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxShift   = 63 - subBits
	numBuckets = (maxShift+1)*subCount + subCount
)

// Histogram is a log-linear histogram of non-negative int64 values (here,
// nanoseconds) in the manner of HdrHistogram: exact below 256, and within
// 0.8% above. The zero value is ready to use. It is not safe for concurrent
// use; Run keeps one per shard behind a mutex.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	min    int64
	max    int64
	sum    float64
}

func bucketOf(v int64) int {
	u := uint64(v)
	shift := bits.Len64(u) - (subBits + 1)
	if shift <= 0 {
		return int(u)
	}
	return shift*subCount + int(u>>uint(shift))
}

// bucketHigh is the highest value that falls into bucket b.
func bucketHigh(b int) int64 {
	if b < 2*subCount {
		return int64(b)
	}
	shift := b/subCount - 1
	m := uint64(b - shift*subCount)
	return int64((m+1)<<uint(shift) - 1)
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// RecordCorrected records v and, like HdrHistogram's RecordCorrectedValue,
// the samples a closed-loop client missed while a reply took longer than
// the expected interval between requests: v-interval, v-2*interval, ...
// down to interval. An interval <= 0 records v alone.
func (h *Histogram) RecordCorrected(v, interval int64) {
	h.Record(v)
	if interval <= 0 {
		return
	}
	for missing := v - interval; missing >= interval; missing -= interval {
		h.Record(missing)
	}
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() int64 { return h.max }

// Mean is the mean of the recorded values.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Quantile returns the value at quantile q (0..1): the highest value
// equivalent to the smallest recorded value that at least q of all values
// are at or below, capped at Max. It is 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketHigh(b), h.max)
		}
	}
	return h.max
}

// shardedHist spreads recording over several mutex-guarded histograms so
// thousands of connections neither contend on one lock nor each carry
// their own 60 KB of buckets.
type shardedHist struct {
	shards []histShard
}

type histShard struct {
	mu sync.Mutex
	h  Histogram
	_  [64]byte // keep shards' locks on separate cache lines
}

func newShardedHist(n int) *shardedHist {
	return &shardedHist{shards: make([]histShard, max(n, 1))}
}

func (s *shardedHist) record(shard int, v int64) {
	sh := &s.shards[shard%len(s.shards)]
	sh.mu.Lock()
	sh.h.Record(v)
	sh.mu.Unlock()
}

func (s *shardedHist) merged() *Histogram {
	var all Histogram
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		all.Merge(&sh.h)
		sh.mu.Unlock()
	}
	return &all
}
