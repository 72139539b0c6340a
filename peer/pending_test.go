package peer

import (
	"hash/maphash"
	"testing"
	"time"

	"github.com/herdnet/herd/herd"
)

// A client waits once however often it is pushed; a client the neighbour
// turned out to hold is removed and skipped, and comes back if pushed
// again; take hands out every id in arrival order and starts afresh; the
// table grows without losing ids.
func TestPending(t *testing.T) {
	seed := maphash.MakeSeed()
	q := newPending(seed)
	push := func(id string) bool {
		return q.push([]byte(id), maphash.String(seed, id), func() time.Time { return time.Unix(0, 1) })
	}
	cache := herd.NewCache()
	remove := func(id string) { // the neighbour sent the line held for id
		q.remove([]byte(id), maphash.String(seed, id), cache, offer(cache, id, 1))
	}
	for _, id := range []string{"a", "bb", "a", "ccc", "bb"} {
		push(id)
	}
	remove("bb")
	remove("zz") // not waiting: nothing
	if n, _, coalesced, removed := q.stats(); n != 2 || coalesced != 2 || removed != 1 {
		t.Fatalf("%d waiting, %d coalesced, %d removed; want 2, 2, 1", n, coalesced, removed)
	}
	walk := func(ids []byte) (got []string) {
		for len(ids) > 0 {
			id, rest, removed := nextID(ids)
			if !removed {
				got = append(got, string(id))
			}
			ids = rest
		}
		return got
	}
	ids, first := q.take(nil)
	if got := walk(ids); len(got) != 2 || got[0] != "a" || got[1] != "ccc" || first != 1 {
		t.Fatalf("took %q (first %d), want [a ccc]", got, first)
	}
	push("bb")
	remove("bb")
	if !push("bb") {
		t.Error("a removed id pushed again was not added back")
	}
	for i := range 200 { // ids removed at once still take table words: the table grows
		id := "r" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		push(id)
		remove(id)
	}
	if _, _, _, removed := q.stats(); removed != 202 {
		t.Errorf("%d removed, want 202", removed)
	}
	for i := range 1000 { // grows the table past its first size
		push(string(rune('A'+i%26)) + string(rune('a'+i/26)))
	}
	ids, _ = q.take(ids)
	got := walk(ids)
	if len(got) != 1001 || got[0] != "bb" {
		t.Fatalf("took %d ids starting %q, want 1001 starting bb", len(got), got[:1])
	}
	if n, _, _, _ := q.stats(); n != 0 {
		t.Errorf("%d waiting after take", n)
	}
}
