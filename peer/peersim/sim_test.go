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
// burst and after a partition heals, every node stores each update once
// (n-1 deliveries of news per update), and plain flooding sends no more
// than it should: the node an update enters at sends it to its d
// neighbours, every other node, on first hearing it, to its d-1 others, so
// a d-regular herd of n nodes sends at most n(d-1)+1 messages per update.
// It sends fewer when a node's copy for a neighbour still waits in the
// link's pending set as that neighbour's own copy arrives: the client then
// leaves the set (herd.Holder), so at least n-1 and at most n(d-1)+1.
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
			maxMsgs := n*(d-1) + 1
			if res.NewsPerUpdate != n-1 || res.MsgsPerUpdate < n-1 || res.MsgsPerUpdate > maxMsgs {
				t.Errorf("%d nodes, degree %d: %.3f messages per update, %.3f of them news; want %.0f news in %.0f to %.0f messages",
					tc.nodes, tc.d, res.MsgsPerUpdate, res.NewsPerUpdate, n-1, n-1, maxMsgs)
			}
			if wantDup := 100 * (res.MsgsPerUpdate - (n - 1)) / res.MsgsPerUpdate; fmt.Sprintf("%.3f", res.DupPct) != fmt.Sprintf("%.3f", wantDup) {
				t.Errorf("%.3f%% duplicates, want %.3f%% (the messages that were not news)", res.DupPct, wantDup)
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
// (a flood, which its pending sets already trim: over half on a random
// 4-regular herd of 12, three quarters on a mesh of 8).
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
