package herd_test

// The node's cache against two popular byte caches, github.com/coocood/freecache
// and github.com/allegro/bigcache/v3, on the node's workload (BENCHMARKS.md, "The node's cache against freecache and
// bigcache"). Benchmarks only: nothing here runs under go test without -bench.
//
// What is compared is not the same contract, and the figures must be read
// with that in mind:
//
//   - Newest wins. herd.Cache.OfferAppend stores a line only if its client
//     time is later than the held line's (equal times broken by comparing the
//     lines as bytes), atomically under the shard lock, and answers a stale
//     offer without a lock. freecache and bigcache have no such comparison:
//     Set overwrites. Their "set" below is a plain Set, the least they would
//     do; a node built on them would need a Get, a compare and a Set, and
//     that would still race between two writers of the same client.
//   - Reads. herd.Cache reads take no lock (a seqlock per record). freecache
//     takes its segment's mutex on every Get (it also updates the entry's
//     access time and hit counters); bigcache takes its shard's RWMutex for
//     reading. Neither does lock-free reads.
//   - Copies. herd appends the held line to the caller's buffer, as the node
//     needs it; freecache's GetWithBuf does the same; bigcache's Get returns
//     a fresh copy each time, and makes a string of the stored key to
//     compare it: two allocations per get.
//   - Space. freecache needs its size fixed up front and evicts (LRU-ish,
//     per segment) when a segment is full: it is given 256 MB here, enough
//     for a million of these entries with room to spare (checked: no
//     eviction), and those 256 MB count in its bytes per client. bigcache is
//     given its documented sizing (MaxEntriesInWindow one million,
//     MaxEntrySize the line's length) and no cleaner; a Set of a known key
//     only marks the old entry dead, so replaced lines keep their space (and
//     expired entries stay) until the queue is full and the oldest are
//     evicted. For the get and set benchmarks it is capped at 256 MB like
//     freecache (HardMaxCacheSize), so replaced lines are evicted instead of
//     growing the heap without bound.
//   - Keys. bigcache takes string keys; they are converted once, outside the
//     timed loop (the node has []byte ids, so a node would pay that
//     conversion or an unsafe cast); freecache and herd take []byte.
//   - Expiry. herd keeps a client until it is replaced; freecache is given
//     no expiry (0) and bigcache a life window of ten years, so neither
//     drops a client during the run.

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allegro/bigcache/v3"
	"github.com/coocood/freecache"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// cmpCache is the least the comparison needs: get a client's line into the
// caller's buffer, and replace it.
type cmpCache interface {
	get(dst, id []byte, key string) ([]byte, bool)
	// set stores line for id. For herd it is an offer (newest wins), given
	// buf as the node gives its reply buffer (the held line is copied there
	// to be compared); for the others a plain overwrite.
	set(buf, id []byte, key string, s codec.Stamp, line []byte) []byte
	close()
}

type herdCmp struct{ c *herd.Cache }

func (h herdCmp) get(dst, id []byte, _ string) ([]byte, bool) { return h.c.AppendLine(dst, id) }
func (h herdCmp) set(buf, id []byte, _ string, s codec.Stamp, line []byte) []byte {
	buf, _ = h.c.OfferAppend(buf[:0], id, s, line)
	return buf
}
func (herdCmp) close() {}

type freecacheCmp struct{ c *freecache.Cache }

// freecacheSize is freecache's fixed size: 256 MB, room for a million
// ~140-byte entries (24-byte header, id, line) at about half full.
const freecacheSize = 256 << 20

func (f freecacheCmp) get(dst, id []byte, _ string) ([]byte, bool) {
	v, err := f.c.GetWithBuf(id, dst[len(dst):cap(dst)])
	if err != nil {
		return dst, false
	}
	return append(dst, v...), true // no copy when v is dst's own tail
}
func (f freecacheCmp) set(buf, id []byte, _ string, _ codec.Stamp, line []byte) []byte {
	if err := f.c.Set(id, line, 0); err != nil {
		panic(err)
	}
	return buf
}
func (freecacheCmp) close() {}

type bigcacheCmp struct{ c *bigcache.BigCache }

func newBigcache(entries, entrySize, capMB int) bigcacheCmp {
	cfg := bigcache.DefaultConfig(10 * 365 * 24 * time.Hour)
	cfg.CleanWindow = 0 // no cleaner goroutine: nothing expires in a run
	cfg.MaxEntriesInWindow = entries
	cfg.MaxEntrySize = entrySize
	cfg.HardMaxCacheSize = capMB
	cfg.Verbose = false
	c, err := bigcache.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	return bigcacheCmp{c}
}

func (g bigcacheCmp) get(dst, _ []byte, key string) ([]byte, bool) {
	v, err := g.c.Get(key) // a fresh copy
	if err != nil {
		return dst, false
	}
	return append(dst, v...), true
}
func (g bigcacheCmp) set(buf, _ []byte, key string, _ codec.Stamp, line []byte) []byte {
	if err := g.c.Set(key, line); err != nil {
		panic(err)
	}
	return buf
}
func (g bigcacheCmp) close() { _ = g.c.Close() }

type cmpImpl struct {
	name string
	// new returns an empty cache sized for clients entries of about
	// lineLen bytes; small says it serves the get/set benchmarks.
	new func(clients, lineLen int, small bool) cmpCache
}

var cmpImpls = []cmpImpl{
	{"herd", func(int, int, bool) cmpCache { return herdCmp{herd.NewCache()} }},
	{"freecache", func(int, int, bool) cmpCache { return freecacheCmp{freecache.NewCache(freecacheSize)} }},
	{"bigcache", func(clients, lineLen int, small bool) cmpCache {
		capMB := 0 // unbounded: the memory benchmark only inserts
		if small {
			capMB = freecacheSize >> 20
		}
		return newBigcache(clients, lineLen, capMB)
	}},
}

// BenchmarkCacheCompare runs, for each implementation:
//
//	op=memory     fill a million clients (BenchmarkCacheMemory's 93-byte
//	              lines and client%07d.cs.ucla.edu ids); B/client is the heap
//	              in use after GC (HeapAlloc) minus that before, lines and
//	              index included, per client. One op fills one cache.
//	op=get        parallel get of a present client among benchClients
//	              (BenchmarkCache's ids and ~70-byte lines), copied to the
//	              caller's buffer.
//	op=set-newer  parallel replacement of a client's line by one with a later
//	              time, each goroutine its own clients (as
//	              BenchmarkCache's offer-newer); a plain Set for freecache and
//	              bigcache (no newest-wins check, see above).
func BenchmarkCacheCompare(b *testing.B) {
	for _, impl := range cmpImpls {
		b.Run("impl="+impl.name+"/op=memory", func(b *testing.B) { benchCmpMemory(b, impl) })
		b.Run("impl="+impl.name+"/op=get", func(b *testing.B) { benchCmpGet(b, impl) })
		b.Run("impl="+impl.name+"/op=set-newer", func(b *testing.B) { benchCmpSet(b, impl) })
	}
}

func benchCmpMemory(b *testing.B, impl cmpImpl) {
	const n = 1_000_000
	var cmd codec.Command
	buf := make([]byte, 0, 256)
	lineLen := len(fmt.Appendf(nil, "AT Alford +0.263873386 client%07d.cs.ucla.edu +34.068930-118.445127 1479413884.392014450", 0))
	b.SetBytes(int64(n * lineLen))
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := impl.new(n, lineLen, false)
		for i := range n {
			buf = fmt.Appendf(buf[:0], "AT Alford +0.263873386 client%07d.cs.ucla.edu +34.068930-118.445127 1479413884.392014450", i)
			if err := codec.Parse(buf, &cmd); err != nil {
				b.Fatal(err)
			}
			c.set(nil, cmd.ClientID, string(cmd.ClientID), cmd.Stamp, buf)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		// Every client must still be there: a cache that evicted would look
		// smaller than it is.
		for _, i := range []int{0, n / 2, n - 1} {
			id := fmt.Appendf(nil, "client%07d.cs.ucla.edu", i)
			if _, ok := c.get(nil, id, string(id)); !ok {
				b.Fatalf("client %d evicted", i)
			}
		}
		if f, ok := c.(freecacheCmp); ok && (f.c.EntryCount() != n || f.c.EvacuateCount() != 0) {
			b.Fatalf("freecache holds %d entries, evacuated %d", f.c.EntryCount(), f.c.EvacuateCount())
		}
		if g, ok := c.(bigcacheCmp); ok && g.c.Len() != n {
			b.Fatalf("bigcache holds %d entries", g.c.Len())
		}
		runtime.KeepAlive(c)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/client")
		c.close()
	}
}

// cmpFilled returns a cache holding benchClients clients at time 1000, with
// their ids, string keys and lines.
func cmpFilled(impl cmpImpl) (cmpCache, [][]byte, []string, [][]byte) {
	ids := make([][]byte, benchClients)
	keys := make([]string, benchClients)
	lines := make([][]byte, benchClients)
	for i := range benchClients {
		ids[i] = benchID(i)
		keys[i] = string(ids[i])
		lines[i] = benchLine(nil, i, 1000)
	}
	c := impl.new(benchClients, len(lines[benchClients-1]), true)
	for i := range benchClients {
		c.set(nil, ids[i], keys[i], codec.Stamp{Sec: 1000}, lines[i])
	}
	return c, ids, keys, lines
}

func benchCmpGet(b *testing.B, impl cmpImpl) {
	c, ids, keys, lines := cmpFilled(impl)
	defer c.close()
	var seed atomic.Int64
	b.SetBytes(int64(len(lines[benchClients-1])))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		buf := make([]byte, 0, 256)
		for pb.Next() {
			i++
			k := i % benchClients
			var ok bool
			if buf, ok = c.get(buf[:0], ids[k], keys[k]); !ok || len(buf) != len(lines[k]) {
				b.Error("miss")
				return
			}
		}
	})
}

func benchCmpSet(b *testing.B, impl cmpImpl) {
	c, ids, keys, lines := cmpFilled(impl)
	defer c.close()
	var worker atomic.Int64
	b.SetBytes(int64(len(lines[benchClients-1])))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(worker.Add(1))
		var line []byte
		buf := make([]byte, 0, 256) // the reply buffer, as a node has
		sec := int64(1000)
		k := 0
		for pb.Next() {
			i := (w*131 + k*1024) % benchClients
			k++
			if k*1024 >= benchClients {
				k = 0
				sec++
			}
			line = benchLine(line[:0], i, sec)
			buf = c.set(buf, ids[i], keys[i], codec.Stamp{Sec: sec}, line)
		}
	})
	b.StopTimer()
	// The last line set must be the one held.
	if _, ok := c.get(nil, ids[0], keys[0]); !ok {
		b.Error("client 0 lost")
	}
}
