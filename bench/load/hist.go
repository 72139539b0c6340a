package load

import (
	"runtime"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The latency histograms' range and precision. Values are nanoseconds:
// exact below 2048 ns, and within 0.1% (three significant figures) up to an
// hour; longer values are recorded as an hour.
const (
	histLowest  = 1
	histHighest = int64(time.Hour)
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histSigFigs)
}

// clampNs brings v into the histograms' range.
func clampNs(v int64) int64 { return min(max(v, 0), histHighest) }

// shardedHist spreads recording over a few mutex-guarded HDR histograms
// (an hdrhistogram.Histogram is not safe for concurrent use), so thousands
// of connections neither contend on one lock nor each carry their own
// 270 KB of counts. Connection i records into shard i mod the shard count.
type shardedHist struct {
	shards []histShard
}

type histShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [64]byte // keep shards' locks on separate cache lines
}

// newShardedHist returns a recorder for conns connections: up to four
// shards per P, since no more goroutines than that record at once.
func newShardedHist(conns int) *shardedHist {
	n := max(1, min(conns, 4*runtime.GOMAXPROCS(0)))
	s := &shardedHist{shards: make([]histShard, n)}
	for i := range s.shards {
		s.shards[i].h = newHist()
	}
	return s
}

// record adds one value in nanoseconds.
func (s *shardedHist) record(shard int, v int64) {
	sh := &s.shards[shard%len(s.shards)]
	sh.mu.Lock()
	_ = sh.h.RecordValue(clampNs(v)) // in range after clampNs: cannot fail
	sh.mu.Unlock()
}

// recordCorrected adds v and, through HdrHistogram's RecordCorrectedValue,
// the values v-interval, v-2*interval, ... down to interval: the requests a
// schedule of one every interval would have issued while v went by.
func (s *shardedHist) recordCorrected(shard int, v, interval int64) {
	sh := &s.shards[shard%len(s.shards)]
	sh.mu.Lock()
	_ = sh.h.RecordCorrectedValue(clampNs(v), interval) // every value is in range
	sh.mu.Unlock()
}

// merged returns one histogram holding every shard's values.
func (s *shardedHist) merged() *hdrhistogram.Histogram {
	all := newHist()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		all.Merge(sh.h)
		sh.mu.Unlock()
	}
	return all
}

// latencyOf summarizes h (nanoseconds) in microseconds.
func latencyOf(h *hdrhistogram.Histogram) Latency {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		P50: us(h.ValueAtPercentile(50)), P99: us(h.ValueAtPercentile(99)), P999: us(h.ValueAtPercentile(99.9)),
		Max: us(h.Max()), Mean: h.Mean() / 1e3,
	}
}
