//go:build !race

package peer

import (
	"testing"

	"github.com/herdnet/herd/herd"
)

// TestHoldsAllocs: Holds, which reads the held line to compare it, allocates
// nothing once the set's buffer has grown, whether it removes the client or
// keeps it (a newer line is held).
func TestHoldsAllocs(t *testing.T) {
	cache := herd.NewCache()
	ls := New(Config{Name: "Alford", Cache: cache})
	defer ls.Close()
	b := newLink(ls, Neighbor{Name: "Ball"})
	b.setState(StateUp)
	ls.list.Store(&[]*link{b})
	older := offer(cache, "kiwi", 100)
	newer := offer(cache, "kiwi", 200)
	ls.Flood(newer, "")
	ls.Holds(older, "Ball")
	if n := testing.AllocsPerRun(1000, func() {
		ls.Flood(newer, "")
		ls.Holds(older, "Ball") // kept
		ls.Holds(newer, "Ball") // removed
	}); n != 0 {
		t.Errorf("%.2f allocations per Flood and two Holds, want 0", n)
	}
	if _, _, _, removed := b.q.stats(); removed == 0 {
		t.Error("nothing was removed: the test did not cover removing")
	}
}
