package peersim_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/herdnet/herd/peer/peersim"
)

// BenchmarkSim measures each topology at 50 and 200 nodes (the five-node
// cycle at its five), flooding and with the spanning-tree push: one run is
// a warm-up of updates one at a time, a burst of 200 updates, then a
// partition in two halves taking 200 more, then the heal. ns/op is a whole run,
// set-up included; the figures are the custom metrics. Run it with
// -benchtime=1x: each run is bounded by two minutes.
//
// The full mesh stops at 50 nodes: a node holds four 64 KiB buffers per
// neighbour (reader and writer on each of its two connections), so at 200
// it would need about 58 MiB a node, 11 GiB in all (at 50: 21 MiB a node).
func BenchmarkSim(b *testing.B) {
	const updates = 200
	type sim struct {
		top   peersim.Topology
		nodes int
	}
	sims := []sim{{peersim.Five, 5}}
	for _, n := range []int{50, 200} {
		sims = append(sims, sim{peersim.Ring, n}, sim{peersim.Regular4, n})
	}
	sims = append(sims, sim{peersim.Mesh, 50})
	for _, s := range sims {
		for _, tree := range []bool{false, true} {
			benchSim(b, s.top, s.nodes, tree, updates)
		}
	}
}

func benchSim(b *testing.B, top peersim.Topology, nodes int, tree bool, updates int) {
	push := "flood"
	if tree {
		push = "tree"
	}
	b.Run(fmt.Sprintf("topology=%s/nodes=%d/push=%s", top.Name, nodes, push), func(b *testing.B) {
		b.ReportAllocs()
		var sum peersim.Result
		for i := range b.N {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			res, err := peersim.Run(ctx, peersim.Config{Topology: top, Nodes: nodes, Seed: uint64(i + 1), Tree: tree}, updates)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			sum.MsgsPerUpdate += res.MsgsPerUpdate
			sum.AnnouncedPerUpdate += res.AnnouncedPerUpdate
			sum.GraftsPerUpdate += res.GraftsPerUpdate
			sum.DupPct += res.DupPct
			sum.WireBytesPerUpdate += res.WireBytesPerUpdate
			sum.Converge += res.Converge
			sum.Heal += res.Heal
			sum.BytesPerNode += res.BytesPerNode
		}
		n := float64(b.N)
		b.ReportMetric(sum.MsgsPerUpdate/n, "msgs/update")
		b.ReportMetric(sum.AnnouncedPerUpdate/n, "ihave/update")
		b.ReportMetric(sum.GraftsPerUpdate/n, "grafts/update")
		b.ReportMetric(sum.DupPct/n, "dup-%")
		b.ReportMetric(sum.WireBytesPerUpdate/n, "wire-B/update")
		b.ReportMetric(float64(sum.Converge.Microseconds())/1e3/n, "converge-ms")
		b.ReportMetric(float64(sum.Heal.Microseconds())/1e3/n, "heal-ms")
		b.ReportMetric(sum.BytesPerNode/n, "B/node")
	})
}
