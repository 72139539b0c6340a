package peersim_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/peer/peersim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs every topology at a small size: the herd converges after a
// burst and after a partition heals, and plain flooding sends exactly what
// it should: the node an update enters at sends it to its d neighbours,
// every other node, on first hearing it, to its d-1 others, so a d-regular
// herd of n nodes sends n(d-1)+1 messages per update, n-1 of them news.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		top      peersim.Topology
		nodes, d int
	}{
		{peersim.Five, 5, 2},
		{peersim.Ring, 8, 2},
		{peersim.Regular4, 10, 4},
		{peersim.Mesh, 6, 5},
	} {
		t.Run(fmt.Sprintf("topology=%s/nodes=%d", tc.top.Name, tc.nodes), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const updates = 40
			res, err := peersim.Run(ctx, peersim.Config{Topology: tc.top, Nodes: tc.nodes, Seed: 1}, updates)
			if err != nil {
				t.Fatal(err)
			}
			n, d := float64(tc.nodes), float64(tc.d)
			wantMsgs := n*(d-1) + 1
			wantDup := 100 * (wantMsgs - (n - 1)) / wantMsgs
			if res.MsgsPerUpdate != wantMsgs || fmt.Sprintf("%.3f", res.DupPct) != fmt.Sprintf("%.3f", wantDup) {
				t.Errorf("%d nodes, degree %d: %.3f messages per update, %.3f%% duplicates; a plain flood sends %.0f, %.3f%%",
					tc.nodes, tc.d, res.MsgsPerUpdate, res.DupPct, wantMsgs, wantDup)
			}
			if res.Nodes != tc.nodes || res.Edges != tc.nodes*tc.d/2 || res.Converge <= 0 || res.Heal <= 0 || res.WireBytesPerUpdate <= 0 {
				t.Errorf("result %+v", res)
			}
			t.Logf("%+v", res)
		})
	}
}

// TestTree: with the spanning-tree push, a herd with cycles converges
// after a burst and after a partition heals, and sends fewer copies of
// each update than a flood: duplicates fall below a third of the AT lines
// (a flood: 70% on a random 4-regular herd of 12, 83% on a mesh of 8).
func TestTree(t *testing.T) {
	for _, tc := range []struct {
		top   peersim.Topology
		nodes int
	}{
		{peersim.Regular4, 12},
		{peersim.Mesh, 8},
	} {
		t.Run(fmt.Sprintf("topology=%s/nodes=%d", tc.top.Name, tc.nodes), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg := peersim.Config{Topology: tc.top, Nodes: tc.nodes, Seed: 1}
			flood, err := peersim.Run(ctx, cfg, 60)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Tree = true
			tree, err := peersim.Run(ctx, cfg, 60)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("flood %+v", flood)
			t.Logf("tree  %+v", tree)
			if tree.DupPct >= 100.0/3 || tree.MsgsPerUpdate >= flood.MsgsPerUpdate {
				t.Errorf("tree: %.1f AT lines per update, %.1f%% duplicates; flood: %.1f, %.1f%%",
					tree.MsgsPerUpdate, tree.DupPct, flood.MsgsPerUpdate, flood.DupPct)
			}
			if tree.AnnouncedPerUpdate == 0 {
				t.Error("no lazy edge announced anything")
			}
		})
	}
}
