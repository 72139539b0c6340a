//go:build !race

package peer

import (
	"testing"

	"github.com/herdnet/herd/herd"
)

// TestFloodAllocs: flooding copies the line into each up link's queue, and
// once the queues' buffers have grown that allocates nothing, whether the
// queue has room or drops its oldest line.
func TestFloodAllocs(t *testing.T) {
	ls := New(Config{Name: "A", Cache: herd.NewCache(), Peers: Settings{Queue: 8}})
	defer ls.Close()
	a, b := newLink(ls, Neighbor{Name: "B"}), newLink(ls, Neighbor{Name: "C"})
	a.setState(stateUp)
	b.setState(stateUp)
	ls.list.Store(&[]*link{a, b})
	line := entryLine("kiwi.cs.ucla.edu", 1479413884)
	for range 100 {
		ls.Flood(line, "")
	}
	if n := testing.AllocsPerRun(1000, func() { ls.Flood(line, "C") }); n != 0 {
		t.Errorf("%.2f allocations per Flood, want 0", n)
	}
	if a.dropped.Load() == 0 {
		t.Error("the queue never overflowed: the test did not cover dropping")
	}
	if got := b.q.len(); got != 8 {
		t.Errorf("C's queue holds %d lines, want 8 (from C: not queued)", got)
	}
}

// TestFloodLazyAllocs: on a pruned tree link, flooding appends an IHAVE
// line to the link's announcements, which allocates nothing once their
// buffer has grown.
func TestFloodLazyAllocs(t *testing.T) {
	ls := New(Config{Name: "A", Cache: herd.NewCache(), Peers: Settings{Tree: true}})
	defer ls.Close()
	l := newLink(ls, Neighbor{Name: "B"})
	l.setState(stateUp)
	l.tree.on.Store(true)
	l.tree.lazy.Store(true)
	ls.list.Store(&[]*link{l})
	line := entryLine("kiwi.cs.ucla.edu", 1479413884)
	for range 2000 { // more than AllocsPerRun appends: the buffer has grown
		ls.Flood(line, "")
	}
	l.tree.mu.Lock()
	l.tree.ihave = l.tree.ihave[:0]
	l.tree.mu.Unlock()
	if n := testing.AllocsPerRun(1000, func() { ls.Flood(line, "") }); n != 0 {
		t.Errorf("%.2f allocations per lazy Flood, want 0", n)
	}
	if l.q.len() != 0 || ls.Tree().Announced == 0 {
		t.Errorf("a lazy link queued %d lines and announced %d", l.q.len(), ls.Tree().Announced)
	}
}
