package peer

import (
	"hash/maphash"
	"strconv"
	"testing"
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
			q.push(id, maphash.Bytes(seed, id), int64(1+round*clients+i))
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
		q.push(id, maphash.Bytes(seed, id), 1)
	}
	if n, _, _, _ := q.stats(); n != clients || len(q.table) != table {
		t.Errorf("after a take: %d waiting, table %d words (was %d)", n, len(q.table), table)
	}
}
