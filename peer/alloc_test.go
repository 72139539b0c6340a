//go:build !race

package peer

import (
	"strconv"
	"testing"

	"github.com/herdnet/herd/herd"
)

// TestFloodAllocs: flooding adds the client to each up link's pending set
// (but from's), and once the sets have grown that allocates nothing,
// whether the client is new to the set or waits already.
func TestFloodAllocs(t *testing.T) {
	ls := New(Config{Name: "A", Cache: herd.NewCache()})
	defer ls.Close()
	a, b := newLink(ls, Neighbor{Name: "B"}), newLink(ls, Neighbor{Name: "C"})
	a.setState(StateUp)
	b.setState(StateUp)
	ls.list.Store(&[]*link{a, b})
	lines := make([][]byte, 100)
	for i := range lines {
		lines[i] = entryLine("client-"+strconv.Itoa(i), 1479413884)
		ls.Flood(lines[i], "")
	}
	var spare []byte
	k := 0
	if n := testing.AllocsPerRun(1000, func() {
		ls.Flood(lines[k%len(lines)], "C")
		if k++; k%len(lines) == 0 {
			spare, _ = a.q.take(spare) // a new generation: every client is new again
		}
	}); n != 0 {
		t.Errorf("%.2f allocations per Flood, want 0", n)
	}
	if n, _, coalesced, _ := a.q.stats(); n == 0 || coalesced == 0 {
		t.Errorf("B's set: %d waiting, %d coalesced: the test did not cover both cases", n, coalesced)
	}
	if n, _, _, _ := b.q.stats(); n != len(lines) {
		t.Errorf("C's set holds %d clients, want %d (from C: not added)", n, len(lines))
	}
}
