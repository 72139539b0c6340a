package herd_test

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// BenchmarkNodeApply is a flooded update applied by a node holding a
// million clients: new clients (the first pass of a cold workload) and
// newer lines for clients held, spread over the cache so its memory is
// cold, as a neighbour's stream under a cold load is.
func BenchmarkNodeApply(b *testing.B) {
	const clients = 1 << 20
	lines := func(sec int) [][]byte {
		out := make([][]byte, clients)
		for i := range out {
			out[i] = []byte("AT Ball +0.000100000 client-" + strconv.Itoa(i*7919%clients) + " +34.068930-118.445127 " + strconv.Itoa(1_700_000_000+sec))
		}
		return out
	}
	first, second := lines(0), lines(1)
	for _, tc := range []struct {
		name string
		fill bool
	}{{"new", false}, {"newer", true}} {
		b.Run("clients=1M/"+tc.name, func(b *testing.B) {
			n := herd.NewNode(herd.NodeOptions{Name: "Alford", Flooder: &countFlooder{}})
			ls := first
			if tc.fill {
				var cmd codec.Command
				for _, l := range first {
					_ = codec.Parse(l, &cmd)
					n.Update(nil, &cmd, "Ball")
				}
				ls = second
			}
			var cmd codec.Command
			dst := make([]byte, 0, 256)
			b.ReportAllocs()
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				if i == len(ls) {
					b.StopTimer()
					n = herd.NewNode(herd.NodeOptions{Name: "Alford", Flooder: &countFlooder{}})
					i = 0
					b.StartTimer()
				}
				_ = codec.Parse(ls[i], &cmd)
				dst = n.Update(dst[:0], &cmd, "Ball")
				i++
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time (user and system) of the process so far: on a
// shared machine a steadier measure than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
