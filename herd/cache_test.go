package herd_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

func TestCacheFirstStore(t *testing.T) {
	c := herd.NewCache()
	if e := c.Get([]byte("kiwi.cs.ucla.edu")); e != nil {
		t.Fatalf("Get on empty cache = %q, want nil", e.Line)
	}
	line := []byte(kiwiAT)
	cmd := parse(t, kiwiAT)
	cur, stored := c.Offer(cmd.ClientID, cmd.Stamp, line)
	if !stored || cur == nil {
		t.Fatalf("first Offer: stored=%v cur=%v, want stored", stored, cur)
	}
	if string(cur.Line) != kiwiAT {
		t.Errorf("Line = %q, want %q", cur.Line, kiwiAT)
	}
	if want := (codec.Stamp{Sec: 1479413884, Nsec: 392014450}); cur.Stamp != want {
		t.Errorf("Stamp = %+v, want %+v", cur.Stamp, want)
	}
	// The cache keeps its own copy of the line.
	copy(line, "XXXXXXXX")
	if g := c.Get([]byte("kiwi.cs.ucla.edu")); g == nil || g.Stamp != cur.Stamp || string(g.Line) != kiwiAT {
		t.Errorf("after clobbering the offered bytes Get = %q, want %q", g.Line, kiwiAT)
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
	if e := c.Get([]byte("kiwi.cs.ucla.ed")); e != nil {
		t.Errorf("Get of a prefix = %q, want nil", e.Line)
	}
}

func TestCacheNewerWinsOlderLoses(t *testing.T) {
	const (
		older = "AT Ball -1.000000000 kiwi +10.000000-20.000000 100.5"
		mid   = "AT Welsh +0.000000001 kiwi +11.000000-21.000000 100.500000001"
		newer = "AT Alford +2.5 kiwi +12.000000-22.000000 101"
	)
	c := herd.NewCache()
	if _, stored := offerAT(t, c, mid); !stored {
		t.Fatal("first offer not stored")
	}
	held := c.Get([]byte("kiwi"))
	cur, stored := offerAT(t, c, older)
	if stored || !bytes.Equal(cur.Line, held.Line) || string(cur.Line) != mid {
		t.Fatalf("older offer: stored=%v line=%q, want the held entry %q", stored, cur.Line, mid)
	}
	cur, stored = offerAT(t, c, newer)
	if !stored || string(cur.Line) != newer {
		t.Fatalf("newer offer: stored=%v line=%q, want %q stored", stored, cur.Line, newer)
	}
	if g := c.Get([]byte("kiwi")); g == nil || !bytes.Equal(g.Line, cur.Line) {
		t.Errorf("Get = %q, want the stored %q", g.Line, newer)
	}
	// Same line again is not newer.
	if cur2, stored := offerAT(t, c, newer); stored || !bytes.Equal(cur2.Line, cur.Line) {
		t.Errorf("identical offer: stored=%v, want the held entry back", stored)
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
}

func TestCacheEqualTimeLargerLineWins(t *testing.T) {
	// Same client time; "AT Welsh ..." > "AT Alford ..." as bytes, and
	// "+0.9" > "+0.10" although 0.9 < 0.10 is false: bytes, not numbers.
	pairs := [][2]string{
		{"AT Alford +0.263873386 kiwi +34.068930-118.445127 1479413884.392014450",
			"AT Welsh +0.100000000 kiwi +34.068930-118.445127 1479413884.392014450"},
		{"AT Ball +0.10 kiwi +1.0+1.0 5.000000000",
			"AT Ball +0.9 kiwi +1.0+1.0 5.000000000"},
		// Equal stamps, different verbatim times: "5" vs "5.0".
		{"AT Ball +0.0 kiwi +1.0+1.0 5",
			"AT Ball +0.0 kiwi +1.0+1.0 5.0"},
	}
	for i, p := range pairs {
		small, large := p[0], p[1]
		if bytes.Compare([]byte(small), []byte(large)) >= 0 {
			t.Fatalf("case %d: bad fixture", i)
		}
		for _, order := range [][2]string{{small, large}, {large, small}} {
			c := herd.NewCache()
			offerAT(t, c, order[0])
			cur, stored := offerAT(t, c, order[1])
			if string(cur.Line) != large {
				t.Errorf("case %d, order %q then %q: held %q, want %q", i, order[0], order[1], cur.Line, large)
			}
			if stored != (order[1] == large) {
				t.Errorf("case %d: second offer stored=%v", i, stored)
			}
		}
	}
}

func TestEntryClientID(t *testing.T) {
	ids := []string{
		"kiwi.cs.ucla.edu",
		"étudiant",
		"😂",
		"a",
		"\x00\x01\x7f\xff\xfe",   // odd, non-white-space bytes
		"\xc3\x28",               // invalid UTF-8
		"AT",                     // a keyword as id
		"x+34.068930-118.445127", // looks like a location
		string(bytes.Repeat([]byte("z"), 1000)),
	}
	for _, id := range ids {
		c := herd.NewCache()
		n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: c, Clock: fixedClock(kiwiReceived)})
		cmd := parse(t, "IAMAT "+id+" +34.068930-118.445127 1479413884.392014450")
		n.IAMAT(nil, cmd)
		e := c.Get([]byte(id))
		if e == nil {
			t.Errorf("id %q: not found after IAMAT", id)
			continue
		}
		if got := string(e.ClientID()); got != id {
			t.Errorf("id %q: ClientID = %q", id, got)
		}
		// Through an update from a peer too, on another node.
		c2 := herd.NewCache()
		herd.NewNode(herd.NodeOptions{Name: "Ball", Cache: c2}).Update(nil, parse(t, string(e.Line)), "Alford")
		if e2 := c2.Get([]byte(id)); e2 == nil || string(e2.ClientID()) != id || !bytes.Equal(e2.Line, e.Line) {
			t.Errorf("id %q: after Update got %v", id, e2)
		}
	}
}

func clientLine(i int, sec int64) string {
	return "AT Alford +0.000000001 client-" + strconv.Itoa(i) + " +1.0-2.0 " + strconv.FormatInt(sec, 10)
}

func TestCacheGrowth(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	c := herd.NewCache()
	for i := range n {
		if _, stored := offerAT(t, c, clientLine(i, 1)); !stored {
			t.Fatalf("client %d: new client not stored", i)
		}
		if got := c.Len(); got != i+1 {
			t.Fatalf("after %d clients Len = %d", i+1, got)
		}
	}
	for i := range n {
		id := "client-" + strconv.Itoa(i)
		e := c.Get([]byte(id))
		if e == nil || string(e.Line) != clientLine(i, 1) || string(e.ClientID()) != id {
			t.Fatalf("client %d: Get = %v", i, e)
		}
	}
	// Update half of them; Len does not move.
	for i := 0; i < n; i += 2 {
		if _, stored := offerAT(t, c, clientLine(i, 2)); !stored {
			t.Fatalf("client %d: newer not stored", i)
		}
	}
	if c.Len() != n {
		t.Fatalf("Len = %d, want %d", c.Len(), n)
	}
	seen := make(map[string]int, n)
	c.Range(func(id []byte, st codec.Stamp, line []byte) bool {
		seen[string(id)]++
		var i int
		if _, err := fmt.Sscanf(string(id), "client-%d", &i); err != nil {
			t.Fatalf("Range: unexpected client %q", id)
		}
		want := clientLine(i, int64(2-i%2))
		if string(line) != want || st != (codec.Stamp{Sec: int64(2 - i%2)}) {
			t.Errorf("Range: %q %+v, want %q", line, st, want)
		}
		return true
	})
	if len(seen) != n {
		t.Fatalf("Range saw %d distinct clients, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("Range visited %q %d times", id, k)
		}
	}
}

func TestCacheRangeStops(t *testing.T) {
	c := herd.NewCache()
	for i := range 1000 {
		offerAT(t, c, clientLine(i, 1))
	}
	calls := 0
	c.Range(func([]byte, codec.Stamp, []byte) bool { calls++; return calls < 10 })
	if calls != 10 {
		t.Errorf("Range called fn %d times after it returned false at 10", calls)
	}
	calls = 0
	herd.NewCache().Range(func([]byte, codec.Stamp, []byte) bool { calls++; return true })
	if calls != 0 {
		t.Errorf("Range over an empty cache called fn %d times", calls)
	}
}

// less reports whether AT line a loses to b: earlier time, or equal time and
// smaller bytes.
func less(tb testing.TB, a, b string) bool {
	ca, cb := parse(tb, a), parse(tb, b)
	if c := ca.Stamp.Compare(cb.Stamp); c != 0 {
		return c < 0
	}
	return a < b
}

func TestCacheConcurrentNewestWins(t *testing.T) {
	const (
		writers = 8
		ops     = 5000
		clients = 16
	)
	origins := []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	c := herd.NewCache()
	best := make([][]string, writers) // per writer, per client: the max it offered
	var stop atomic.Bool
	var wg, readers sync.WaitGroup
	// Readers: what a reader sees for a client never goes backwards.
	for r := range 4 {
		readers.Go(func() {
			last := make([]*herd.Entry, clients)
			for i := 0; !stop.Load(); i++ {
				k := i % clients
				e := c.Get([]byte("c" + strconv.Itoa(k)))
				if e == nil {
					continue
				}
				if p := last[k]; p != nil && less(t, string(e.Line), string(p.Line)) {
					t.Errorf("reader %d: client %d went back from %q to %q", r, k, p.Line, e.Line)
					return
				}
				last[k] = e
			}
		})
	}
	for w := range writers {
		best[w] = make([]string, clients)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range ops {
				k := rng.IntN(clients)
				// Few distinct times, so that ties are common.
				line := origins[rng.IntN(len(origins))]
				line = "AT " + line + " +0.00000000" + strconv.Itoa(rng.IntN(10)) +
					" c" + strconv.Itoa(k) + " +1.0+2.0 " + strconv.Itoa(rng.IntN(20)) + "." + strconv.Itoa(rng.IntN(3))
				var cmd codec.Command
				if err := codec.Parse([]byte(line), &cmd); err != nil {
					t.Errorf("parse %q: %v", line, err)
					return
				}
				cur, stored := c.Offer(cmd.ClientID, cmd.Stamp, []byte(line))
				if stored && string(cur.Line) != line {
					t.Errorf("stored, but cur = %q, want %q", cur.Line, line)
				}
				if !stored && less(t, string(cur.Line), line) {
					t.Errorf("not stored, but held %q loses to offered %q", cur.Line, line)
				}
				if b := best[w][k]; b == "" || less(t, b, line) {
					best[w][k] = line
				}
				if rng.IntN(4) == 0 {
					if e := c.Get(cmd.ClientID); e == nil {
						t.Errorf("client %d missing after an Offer", k)
					}
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	want := 0
	for k := range clients {
		max := ""
		for w := range writers {
			if b := best[w][k]; b != "" && (max == "" || less(t, max, b)) {
				max = b
			}
		}
		if max == "" {
			continue
		}
		want++
		e := c.Get([]byte("c" + strconv.Itoa(k)))
		if e == nil || string(e.Line) != max {
			t.Errorf("client %d: held %v, want the maximum %q", k, e, max)
		}
	}
	if c.Len() != want {
		t.Errorf("Len = %d, want %d", c.Len(), want)
	}
}

func TestCacheConcurrentFirstSightings(t *testing.T) {
	for _, distinct := range []int{1, 7, 3000} {
		t.Run("clients="+strconv.Itoa(distinct), func(t *testing.T) {
			const goroutines = 8
			c := herd.NewCache()
			var start sync.WaitGroup
			start.Add(1)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					start.Wait()
					for i := range distinct {
						// Every goroutine offers every client, same time, its own
						// origin: the largest line must win.
						line := "AT N" + strconv.Itoa(g) + " +0.0 id-" + strconv.Itoa(i) + " +1.0+1.0 7"
						var cmd codec.Command
						if err := codec.Parse([]byte(line), &cmd); err != nil {
							t.Error(err)
							return
						}
						c.Offer(cmd.ClientID, cmd.Stamp, []byte(line))
						if c.Get(cmd.ClientID) == nil {
							t.Errorf("id-%d missing right after Offer", i)
							return
						}
					}
				})
			}
			start.Done()
			wg.Wait()
			if c.Len() != distinct {
				t.Errorf("Len = %d, want %d", c.Len(), distinct)
			}
			n := 0
			seen := map[string]bool{}
			c.Range(func(id []byte, _ codec.Stamp, _ []byte) bool {
				n++
				seen[string(id)] = true
				return true
			})
			if n != distinct || len(seen) != distinct {
				t.Errorf("Range visited %d slots, %d distinct clients, want %d", n, len(seen), distinct)
			}
			for i := range distinct {
				want := "AT N" + strconv.Itoa(goroutines-1) + " +0.0 id-" + strconv.Itoa(i) + " +1.0+1.0 7"
				if e := c.Get([]byte("id-" + strconv.Itoa(i))); e == nil || string(e.Line) != want {
					t.Errorf("id-%d: held %v, want %q", i, e, want)
				}
			}
		})
	}
}

// Gets racing with growth never miss a client whose Offer has returned.
func TestCacheGetDuringGrowth(t *testing.T) {
	n := 50_000
	if testing.Short() {
		n = 5000
	}
	c := herd.NewCache()
	var done atomic.Int64 // clients [0, done) are stored
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !stop.Load() {
				d := done.Load()
				if d == 0 {
					continue
				}
				i := rng.Int64N(d)
				if c.Get([]byte("client-"+strconv.FormatInt(i, 10))) == nil {
					t.Errorf("client-%d missing while the cache grows", i)
					return
				}
			}
		})
	}
	for i := range n {
		line := clientLine(i, 1)
		cmd := parse(t, line)
		c.Offer(cmd.ClientID, cmd.Stamp, []byte(line))
		done.Store(int64(i + 1))
	}
	stop.Store(true)
	wg.Wait()
	if c.Len() != n {
		t.Errorf("Len = %d, want %d", c.Len(), n)
	}
}

// Range racing with first sightings and growth visits no client twice and
// misses none stored before it started.
func TestCacheRangeDuringGrowth(t *testing.T) {
	c := herd.NewCache()
	const before = 2000
	for i := range before {
		offerAT(t, c, clientLine(i, 1))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := before; i < before+20_000; i++ {
			line := clientLine(i, 1)
			var cmd codec.Command
			if err := codec.Parse([]byte(line), &cmd); err != nil {
				t.Error(err)
				return
			}
			c.Offer(cmd.ClientID, cmd.Stamp, []byte(line))
		}
	})
	for range 20 {
		seen := map[string]bool{}
		c.Range(func(cid []byte, _ codec.Stamp, _ []byte) bool {
			id := string(cid)
			if seen[id] {
				t.Errorf("Range visited %q twice", id)
			}
			seen[id] = true
			return true
		})
		for i := range before {
			if !seen["client-"+strconv.Itoa(i)] {
				t.Fatalf("Range missed client-%d", i)
			}
		}
	}
	wg.Wait()
}

// tornLine is a line whose bytes check each other: its origin is one
// letter, repeated a number of times, both given by its time.
func tornLine(k int, sec int64) string {
	return "AT N" + strings.Repeat(string(rune('a'+sec%26)), int(sec%23)) +
		" +0.000000001 c" + strconv.Itoa(k) + " +1.0+1.0 " + strconv.FormatInt(sec, 10)
}

// Readers copying lines out while writers replace them, in place and by
// moving to records of other sizes (and reusing the old ones), never see
// torn bytes: every line read is one that was written, whole. Run it with
// -race too: every record access is atomic.
func TestCacheNoTornReads(t *testing.T) {
	const clients = 8
	c := herd.NewCache()
	var stop atomic.Bool
	var readers, writers sync.WaitGroup
	for r := range 3 {
		readers.Go(func() {
			buf := make([]byte, 0, 256)
			var cmd codec.Command
			for i := r; !stop.Load(); i++ {
				var ok bool
				k := i % clients
				if buf, ok = c.AppendLine(buf[:0], []byte("c"+strconv.Itoa(k))); !ok {
					continue
				}
				if err := codec.Parse(buf, &cmd); err != nil || cmd.Kind != codec.KindAT {
					t.Errorf("torn line %q: %v", buf, err)
					return
				}
				if want := tornLine(k, cmd.Stamp.Sec); string(buf) != want {
					t.Errorf("torn line %q, want %q", buf, want)
					return
				}
			}
		})
	}
	ops := 20_000
	if testing.Short() {
		ops = 2000
	}
	for w := range 2 {
		writers.Go(func() {
			for sec := int64(1); sec <= int64(ops); sec++ {
				k := (int(sec) + w) % clients
				line := tornLine(k, sec)
				var cmd codec.Command
				if err := codec.Parse([]byte(line), &cmd); err != nil {
					t.Error(err)
					return
				}
				c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, []byte(line))
			}
		})
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()
	if c.Len() != clients {
		t.Errorf("Len = %d, want %d", c.Len(), clients)
	}
}

// Range copies shards while writers move clients
// between records of other sizes (and other clients take the freed
// records): every client stored before Range began is visited exactly once,
// whole, with the line it held then or a newer one. With -race too.
func TestCacheRangeDuringMoves(t *testing.T) {
	const clients = 640
	c := herd.NewCache()
	var held [clients]atomic.Int64 // newest time stored for each client
	offer := func(k int, sec int64) {
		line := tornLine(k, sec)
		var cmd codec.Command
		if err := codec.Parse([]byte(line), &cmd); err != nil {
			t.Error(err)
			return
		}
		if _, stored := c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, []byte(line)); stored {
			for {
				cur := held[k].Load()
				if cur >= sec || held[k].CompareAndSwap(cur, sec) {
					break
				}
			}
		}
	}
	for k := range clients {
		offer(k, 1)
	}
	var stop atomic.Bool
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for sec := int64(2); !stop.Load() && sec < 1_000_000; sec++ {
				offer(rng.IntN(clients), sec) // lengths vary with sec: most offers move
			}
		})
	}
	rounds := 300
	if testing.Short() {
		rounds = 30
	}
	for range rounds {
		var before [clients]int64
		for k := range clients {
			before[k] = held[k].Load()
		}
		seen := make(map[string]bool, clients)
		c.Range(func(id []byte, st codec.Stamp, line []byte) bool {
			if seen[string(id)] {
				t.Errorf("Range visited %s twice", id)
			}
			seen[string(id)] = true
			k, err := strconv.Atoi(strings.TrimPrefix(string(id), "c"))
			if err != nil || k < 0 || k >= clients {
				t.Errorf("Range visited an unknown client %q", id)
				return false
			}
			if want := tornLine(k, st.Sec); string(line) != want {
				t.Errorf("Range gave torn line %q, want %q", line, want)
			}
			if st.Sec < before[k] {
				t.Errorf("Range gave c%d at time %d, older than the %d it held when Range began", k, st.Sec, before[k])
			}
			return true
		})
		if len(seen) != clients {
			t.Errorf("Range visited %d clients, want %d", len(seen), clients)
		}
	}
	stop.Store(true)
	writers.Wait()
}
