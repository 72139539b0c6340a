package herd

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/herdnet/herd/codec"
)

// BenchmarkColdOffer stores a newer line for clients picked at random from
// a million (every lookup misses the CPU caches), one at a time or in
// batches of 16 as a pipelined read brings them, with and without warming
// the batch's lookups first (Cache.warm, what Node.Warm does for a read).
// One op is one stored line. Picking the ids misses too (they are scattered
// over the heap), in every variant alike. warmed-% is the share of the
// lookups whose record Warm found and touched.
func BenchmarkColdOffer(b *testing.B) {
	const n = 1_000_000
	c := NewCache()
	var cmd codec.Command
	buf := make([]byte, 0, 256)
	ids := make([][]byte, n)
	for i := range n {
		buf = fmt.Appendf(buf[:0], "AT Alford +0.263873386 client%07d.cs.ucla.edu +34.068930-118.445127 1479413884.392014450", i)
		if err := codec.Parse(buf, &cmd); err != nil {
			b.Fatal(err)
		}
		c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, buf)
		ids[i] = []byte(string(cmd.ClientID))
	}
	order := rand.Perm(n)
	sec := int64(1479413885)
	for _, batch := range []int{1, 16} {
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/warm=%v", batch, warm), func(b *testing.B) {
				dst := make([]byte, 0, 256)
				var bids [warmBatch][]byte
				k, touched, looked := 0, 0, 0
				b.ResetTimer()
				for i := 0; i < b.N; i += batch {
					for j := range batch {
						bids[j] = ids[order[(k+j)%n]]
					}
					sec++
					if warm {
						touched += c.warm(bids[:batch])
						looked += batch
					}
					for j := range batch {
						id := bids[j]
						line := append(append(buf[:0], "AT Alford +0.263873386 "...), id...)
						line = strconv.AppendInt(append(line, " +34.068930-118.445127 "...), sec, 10)
						dst, _ = c.OfferAppend(dst[:0], id, codec.Stamp{Sec: sec}, line)
					}
					k += batch
					if k >= n {
						k = 0
					}
				}
				if looked > 0 {
					b.ReportMetric(100*float64(touched)/float64(looked), "warmed-%")
				}
			})
		}
	}
}
