package peer

import (
	"hash/maphash"
	"strconv"
	"testing"
	"time"

	"github.com/herdnet/herd/herd"
)

// TestAttackManyClients: a neighbour floods updates about 131,072
// distinct clients, three times over, while the link it would go out on is
// stalled. The pending set holds each client once (its memory follows the
// number of clients, not the number of updates), counts the rest as
// coalesced, and hands every client over exactly once.
func TestAttackManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("many clients")
	}
	const clients = 1 << 17
	seed := maphash.MakeSeed()
	q := newPending(seed)
	ids := make([][]byte, clients)
	for i := range ids {
		ids[i] = []byte("flood-" + strconv.Itoa(i))
	}
	idBytes := 0
	for round := range 3 {
		for i, id := range ids {
			q.push(id, maphash.Bytes(seed, id), func() time.Time { return time.Unix(0, int64(1+round*clients+i)) })
		}
	}
	for _, id := range ids {
		idBytes += len(id) + 1
	}
	n, first, coalesced, _ := q.stats()
	if n != clients || coalesced != 2*clients || first != 1 {
		t.Fatalf("%d waiting (want %d), %d coalesced (want %d), oldest %d (want 1)", n, clients, coalesced, 2*clients, first)
	}
	if len(q.table) > 4*clients || cap(q.ids) > 2*idBytes {
		t.Errorf("a table of %d words and %d bytes of ids for %d clients (%d bytes)", len(q.table), cap(q.ids), clients, idBytes)
	}
	got, _ := q.take(nil)
	seen := make(map[string]bool, clients)
	for len(got) > 0 {
		var id []byte
		var removed bool
		if id, got, removed = nextID(got); removed {
			t.Fatalf("%q handed over as removed", id)
		}
		if seen[string(id)] {
			t.Fatalf("%q handed over twice", id)
		}
		seen[string(id)] = true
	}
	if len(seen) != clients {
		t.Fatalf("%d clients handed over, want %d", len(seen), clients)
	}
	// The next round finds the set empty and grows nothing.
	table := len(q.table)
	for _, id := range ids {
		q.push(id, maphash.Bytes(seed, id), func() time.Time { return time.Unix(0, 1) })
	}
	if n, _, _, _ := q.stats(); n != clients || len(q.table) != table {
		t.Errorf("after a take: %d waiting, table %d words (was %d)", n, len(q.table), table)
	}
}

// TestAttackLateHoldsKeepsNewerUpdate: Ball sends Alford the line Alford
// holds for kiwi, and the node, having found it held, tells the links so
// (Holds); but meanwhile a client stored a newer line for kiwi and flooded
// it, which found kiwi already waiting for Ball. The late Holds is about
// the older line: kiwi must stay pending, or Ball never hears of the newer
// line (until a periodic sync).
func TestAttackLateHoldsKeepsNewerUpdate(t *testing.T) {
	cache := herd.NewCache()
	ls := New(Config{Name: "Alford", Cache: cache})
	defer ls.Close()
	b := newLink(ls, Neighbor{Name: "Ball"})
	b.setState(StateUp)
	ls.list.Store(&[]*link{b})

	older := offer(cache, "kiwi", 100)
	ls.Flood(older, "") // kiwi waits for Ball
	newer := offer(cache, "kiwi", 200)
	ls.Flood(newer, "")     // coalesced: kiwi waits already
	ls.Holds(older, "Ball") // late: Ball sent the older line
	if n, _, _, _ := b.q.stats(); n != 1 {
		t.Fatalf("%d clients pending for Ball after a late Holds of an older line, want 1 (kiwi's newer line unsent)", n)
	}
	// A Holds of the line held now does take it out.
	ls.Holds(newer, "Ball")
	if n, _, _, _ := b.q.stats(); n != 0 {
		t.Errorf("%d clients pending after Ball sent the line held, want 0", n)
	}
}
