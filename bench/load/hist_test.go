package load

import (
	"bufio"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// The stated precisions: the hand-written histogram this package used
// before HdrHistogram (refHist below) was within 2^-7 of the true value;
// HdrHistogram with three significant figures is within 10^-3.
const (
	refPrecision = 1.0 / (1 << 7)
	hdrPrecision = 1e-3
)

// refHist is the log-linear histogram bench/load carried before it moved to
// HdrHistogram, kept here only as the reference the HDR results are checked
// against: exact below 256, 2^7 sub-buckets per power of two above.
type refHist struct {
	counts   [(63-7+1)*128 + 128]uint64
	total    uint64
	min, max int64
	sum      float64
}

func refBucketOf(v int64) int {
	u := uint64(v)
	shift := bits.Len64(u) - (7 + 1)
	if shift <= 0 {
		return int(u)
	}
	return shift*128 + int(u>>uint(shift))
}

func refBucketHigh(b int) int64 {
	if b < 2*128 {
		return int64(b)
	}
	shift := b/128 - 1
	m := uint64(b - shift*128)
	return int64((m+1)<<uint(shift) - 1)
}

func (h *refHist) record(v int64) {
	v = max(v, 0)
	h.counts[refBucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.total++
	h.sum += float64(v)
}

func (h *refHist) recordCorrected(v, interval int64) {
	h.record(v)
	if interval <= 0 {
		return
	}
	for missing := v - interval; missing >= interval; missing -= interval {
		h.record(missing)
	}
}

func (h *refHist) quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.total))), 1)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(refBucketHigh(b), h.max)
		}
	}
	return h.max
}

func (h *refHist) latency() Latency {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Latency{
		P50: us(h.quantile(0.50)), P99: us(h.quantile(0.99)), P999: us(h.quantile(0.999)),
		Max: us(h.max), Mean: h.sum / float64(h.total) / 1e3,
	}
}

// loopbackLatencies measures n request-reply round trips, one at a time,
// against a fake herd node on loopback: latencies recorded as a run
// records them.
func loopbackLatencies(t *testing.T, n int) []int64 {
	t.Helper()
	addr := fakeHerd(t, goodReply)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opt := DefaultOptions()
	g := newGen(&opt, 0, time.Now().UnixNano())
	br := bufio.NewReader(c)
	out := make([]int64, 0, n)
	var req []byte
	for range n {
		req, _ = g.next(req[:0])
		start := time.Now()
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := br.ReadSlice('\n'); err != nil {
			t.Fatal(err)
		}
		out = append(out, int64(time.Since(start)))
	}
	return out
}

// heavyTail is a deterministic log-normal-ish sample from 1 µs to seconds,
// with one in a thousand values a stall of 10-500 ms.
func heavyTail(n int) []int64 {
	rng := rand.New(rand.NewPCG(12, 12))
	out := make([]int64, n)
	for i := range out {
		v := math.Exp(rng.NormFloat64()*1.2 + math.Log(150e3)) // median 150 µs
		if rng.IntN(1000) == 0 {
			v = 10e6 + rng.Float64()*490e6
		}
		out[i] = int64(v)
	}
	return out
}

// exactQuantile is the value at rank ceil(q*n) of the sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	return sorted[max(int(math.Ceil(q*float64(len(sorted)))), 1)-1]
}

// TestHDRMatchesReference feeds the same latencies to the old histogram and
// to the HDR recording Run uses, and checks that every figure a Result
// reports agrees within the two histograms' stated precisions, and that
// each is within its own precision of the exact value.
func TestHDRMatchesReference(t *testing.T) {
	sets := map[string][]int64{
		"loopback":  loopbackLatencies(t, 20000),
		"heavytail": heavyTail(200000),
		"small":     {3, 1, 2, 5, 4, 0, 255, 7, 100, 42},
		"edges":     {255, 256, 257, 1000, 2047, 2048, 2049, 1 << 20, 1<<20 + 1, 1 << 40},
	}
	for name, vals := range sets {
		t.Run(name, func(t *testing.T) {
			var ref refHist
			hdr := newShardedHist(8)
			for i, v := range vals {
				ref.record(v)
				hdr.record(i, v) // spread over the shards, as connections do
			}
			h := hdr.merged()
			if h.TotalCount() != int64(ref.total) {
				t.Fatalf("count %d, reference %d", h.TotalCount(), ref.total)
			}
			sorted := slices.Sorted(slices.Values(vals))
			for _, q := range []float64{0.5, 0.99, 0.999} {
				// Both histograms rank the same value (HDR rounds q*n, the
				// reference takes its ceiling) when q*n is whole.
				if n := q * float64(len(vals)); math.Round(n) != math.Ceil(n) {
					continue
				}
				exact := float64(exactQuantile(sorted, q))
				got, want := float64(h.ValueAtPercentile(q*100)), float64(ref.quantile(q))
				within(t, "hdr vs exact", q, got, exact, hdrPrecision)
				within(t, "reference vs exact", q, want, exact, refPrecision)
				within(t, "hdr vs reference", q, got, want, hdrPrecision+refPrecision)
			}
			a, b := latencyOf(h), ref.latency()
			within(t, "max", 1, a.Max, b.Max, hdrPrecision)
			within(t, "mean", 0, a.Mean, b.Mean, hdrPrecision)
			// Below 256 ns both are exact (HDR's mean excepted: it is
			// computed from bucket midpoints).
			if sorted[len(sorted)-1] < 256 && (a.P50 != b.P50 || a.P99 != b.P99 || a.P999 != b.P999 || a.Max != b.Max) {
				t.Errorf("small values: hdr %+v, reference %+v", a, b)
			}
			t.Logf("%s: hdr %+v\n  reference %+v", name, a, b)
		})
	}
}

// within fails unless got is within rel (relative) of want, or both are
// within one unit (exact small values).
func within(t *testing.T, what string, q, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Max(got, want) && math.Abs(got-want) > 1e-3 {
		t.Errorf("%s at q=%g: %v against %v, more than %.2f%% apart", what, q, got, want, rel*100)
	}
}

// RecordCorrectedValue and the old correction agree value for value: a
// closed-loop client that waits 1 s for one reply out of 1000 sent every
// 1 ms misses the ~1000 requests it should have sent meanwhile; corrected
// recording puts them back and the stall shows at p99.
func TestCoordinatedOmissionCorrection(t *testing.T) {
	const interval = int64(time.Millisecond)
	var ref refHist
	raw, corrected := newShardedHist(1), newShardedHist(1)
	for i := range 1000 {
		v := int64(100 * time.Microsecond)
		if i == 500 {
			v = int64(time.Second)
		}
		raw.record(0, v)
		corrected.recordCorrected(0, v, interval)
		ref.recordCorrected(v, interval)
	}
	r, c := raw.merged(), corrected.merged()
	if p := r.ValueAtPercentile(99); p > int64(200*time.Microsecond) {
		t.Fatalf("raw p99 = %v, want the stall hidden", time.Duration(p))
	}
	if p := c.ValueAtPercentile(99); p < int64(900*time.Millisecond) {
		t.Fatalf("corrected p99 = %v, want the stall visible", time.Duration(p))
	}
	if c.TotalCount() != 1000+999 || c.TotalCount() != int64(ref.total) {
		t.Fatalf("corrected count = %d, reference %d", c.TotalCount(), ref.total)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		within(t, "corrected vs reference", q, float64(c.ValueAtPercentile(q*100)), float64(ref.quantile(q)), hdrPrecision+refPrecision)
	}
}

func TestLatencyOf(t *testing.T) {
	h := newHist()
	if l := latencyOf(h); l != (Latency{}) {
		t.Fatalf("empty: %+v", l)
	}
	s := newShardedHist(3)
	for v := int64(1); v <= 10000; v++ {
		s.record(int(v), v*1000) // 1..10000 µs in ns
	}
	s.record(0, -5)                 // counts as 0
	s.record(0, 2*int64(time.Hour)) // counts as an hour
	l := latencyOf(s.merged())
	near := func(name string, got, want float64) {
		t.Helper()
		if got < want*(1-hdrPrecision) || got > want*(1+hdrPrecision) {
			t.Errorf("%s = %v µs, want %v ± 0.1%%", name, got, want)
		}
	}
	near("p50", l.P50, 5000)
	near("p99", l.P99, 9900)
	near("p99.9", l.P999, 9990)
	near("max", l.Max, float64(time.Hour/time.Microsecond))
}

// An open-loop run whose server stops answering keeps its writer waiting
// for the pipeline; when the run stops, the requests that fell due
// meanwhile are charged the time they waited and counted as unsent.
func TestOpenLoopChargesUnsent(t *testing.T) {
	var n atomic.Int64
	release := make(chan struct{})
	addr := fakeHerd(t, func(line []byte, w *bufio.Writer) {
		if n.Add(1) == 50 {
			<-release
		}
		goodReply(line, w)
	})
	opt := testOptions(addr)
	opt.Conns, opt.Pipeline, opt.Rate, opt.Warmup = 1, 1, 1000, 0
	opt.Duration = 400 * time.Millisecond
	time.AfterFunc(600*time.Millisecond, func() { close(release) })
	res := mustRun(t, opt)
	if res.Errors != 0 {
		t.Fatalf("errors: %v", res.ErrorExamples)
	}
	// About 350 requests fell due during the stall and were never sent.
	if res.Unsent < 100 || res.Requests > 100 {
		t.Fatalf("unsent %d, requests %d: want the stall's requests unsent", res.Unsent, res.Requests)
	}
	if res.Latency.P99 < 200e3 {
		t.Fatalf("p99 = %.0f µs, want the unsent requests' wait to show", res.Latency.P99)
	}
}

// BenchmarkRecord is the cost of recording one latency, the old histogram
// against HdrHistogram, as the load generator pays it per reply.
func BenchmarkRecord(b *testing.B) {
	vals := heavyTail(1 << 12)
	b.Run("hist=reference", func(b *testing.B) {
		var h refHist
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			h.record(vals[i&(len(vals)-1)])
			i++
		}
	})
	b.Run("hist=hdr", func(b *testing.B) {
		h := newHist()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = h.RecordValue(vals[i&(len(vals)-1)])
			i++
		}
	})
}
