package peersim

import (
	"context"
	"testing"
	"time"

	"github.com/herdnet/herd/peer"
)

// TestTreeWithPlainNodes: in a herd where a third of the nodes do not
// offer the spanning-tree push, exactly the links between two nodes that
// offer it negotiate it, the others flood, and the herd converges after a
// burst and after a partition heals.
func TestTreeWithPlainNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{Topology: Regular4, Nodes: 12, Seed: 3, Tree: true, Plain: 4}
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WaitLinked(ctx); err != nil {
		t.Fatal(err)
	}
	adj := adjacency(len(s.nodes), s.edges)
	want := func(i int) int {
		if i < cfg.Plain {
			return 0
		}
		n := 0
		for _, j := range adj[i] {
			if j >= cfg.Plain {
				n++
			}
		}
		return n
	}
	if err := poll(ctx, func() bool {
		for i, n := range s.nodes {
			if n.links.Tree().Links != want(i) {
				return false
			}
		}
		return true
	}); err != nil {
		for i, n := range s.nodes {
			t.Logf("%s: %+v, want %d tree links", n.name, n.links.Tree(), want(i))
		}
		t.Fatal("tree links never matched the nodes that offer it")
	}
	s.Burst(100)
	if _, err := s.WaitConverged(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := s.Counters()
	if c.Prunes == 0 || c.Announced == 0 {
		t.Errorf("no tree formed among the nodes that offer it: %+v", c)
	}
	for i, n := range s.nodes[:cfg.Plain] {
		if st := n.links.Tree(); st != (peer.TreeStats{}) {
			t.Errorf("plain node %d: %+v", i, st)
		}
	}
	s.Partition()
	s.Burst(50)
	if err := s.quiet(ctx); err != nil {
		t.Fatal(err)
	}
	s.Heal()
	if _, err := s.WaitConverged(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
}
