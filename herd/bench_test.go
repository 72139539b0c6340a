package herd_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// benchMap is what the cache benchmarks exercise, so that herd.Cache can be
// compared with general-purpose concurrent maps doing the same work: the
// held line is copied out to the caller's buffer, as the node needs it.
type benchMap interface {
	AppendLine(dst, id []byte) ([]byte, bool)
	OfferAppend(dst, id []byte, s codec.Stamp, line []byte) ([]byte, bool)
}

func newerThan(s codec.Stamp, line []byte, e *herd.Entry) bool {
	if c := s.Compare(e.Stamp); c != 0 {
		return c > 0
	}
	return bytes.Compare(line, e.Line) > 0
}

type syncMap struct{ m sync.Map }

func (m *syncMap) AppendLine(dst, id []byte) ([]byte, bool) {
	if v, ok := m.m.Load(string(id)); ok {
		return append(dst, v.(*herd.Entry).Line...), true
	}
	return dst, false
}

func (m *syncMap) OfferAppend(dst, id []byte, s codec.Stamp, line []byte) ([]byte, bool) {
	var e *herd.Entry
	for {
		v, ok := m.m.Load(string(id))
		if ok && !newerThan(s, line, v.(*herd.Entry)) {
			return append(dst, v.(*herd.Entry).Line...), false
		}
		if e == nil {
			e = &herd.Entry{Stamp: s, Line: bytes.Clone(line)}
		}
		if !ok {
			if v, loaded := m.m.LoadOrStore(string(id), e); !loaded {
				return dst, true
			} else if !newerThan(s, line, v.(*herd.Entry)) {
				return append(dst, v.(*herd.Entry).Line...), false
			}
			continue
		}
		if m.m.CompareAndSwap(string(id), v, e) {
			return dst, true
		}
	}
}

type xsyncMap struct {
	m *xsync.Map[string, *herd.Entry]
}

func (m xsyncMap) AppendLine(dst, id []byte) ([]byte, bool) {
	if e, ok := m.m.Load(string(id)); ok {
		return append(dst, e.Line...), true
	}
	return dst, false
}

func (m xsyncMap) OfferAppend(dst, id []byte, s codec.Stamp, line []byte) ([]byte, bool) {
	if e, ok := m.m.Load(string(id)); ok && !newerThan(s, line, e) {
		return append(dst, e.Line...), false
	}
	stored := false
	e, _ := m.m.Compute(string(id), func(old *herd.Entry, loaded bool) (*herd.Entry, xsync.ComputeOp) {
		if loaded && !newerThan(s, line, old) {
			return old, xsync.CancelOp
		}
		stored = true
		return &herd.Entry{Stamp: s, Line: bytes.Clone(line)}, xsync.UpdateOp
	})
	if !stored {
		return append(dst, e.Line...), false
	}
	return dst, true
}

const benchClients = 10_000

func benchLine(dst []byte, i int, sec int64) []byte {
	dst = append(dst, "AT Alford +0.263873386 client-"...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, " +34.068930-118.445127 "...)
	return strconv.AppendInt(dst, sec, 10)
}

func benchID(i int) []byte { return strconv.AppendInt([]byte("client-"), int64(i), 10) }

func BenchmarkCache(b *testing.B) {
	impls := []struct {
		name string
		new  func() benchMap
	}{
		{"herd", func() benchMap { return herd.NewCache() }},
		{"syncmap", func() benchMap { return &syncMap{} }},
		{"xsync", func() benchMap { return xsyncMap{xsync.NewMap[string, *herd.Entry]()} }},
	}
	for _, impl := range impls {
		filled := func() (benchMap, [][]byte, [][]byte) {
			m := impl.new()
			ids := make([][]byte, benchClients)
			lines := make([][]byte, benchClients)
			for i := range benchClients {
				ids[i] = benchID(i)
				lines[i] = benchLine(nil, i, 1000)
				m.OfferAppend(nil, ids[i], codec.Stamp{Sec: 1000}, lines[i])
			}
			return m, ids, lines
		}
		b.Run(impl.name+"/get/parallel", func(b *testing.B) {
			m, ids, _ := filled()
			var seed atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				buf := make([]byte, 0, 256)
				for pb.Next() {
					i++
					var ok bool
					if buf, ok = m.AppendLine(buf[:0], ids[i%benchClients]); !ok {
						b.Error("miss")
						return
					}
				}
			})
		})
		// A stale report of a known client: the common case when many nodes
		// flood the same update.
		b.Run(impl.name+"/offer-existing/parallel", func(b *testing.B) {
			m, ids, _ := filled()
			stale := make([][]byte, benchClients)
			for i := range stale {
				stale[i] = benchLine(nil, i, 999)
			}
			var seed atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				buf := make([]byte, 0, 256)
				for pb.Next() {
					i++
					k := i % benchClients
					var stored bool
					if buf, stored = m.OfferAppend(buf[:0], ids[k], codec.Stamp{Sec: 999}, stale[k]); stored {
						b.Error("stale stored")
						return
					}
				}
			})
		})
		// Newer reports of known clients, each goroutine its own clients.
		b.Run(impl.name+"/offer-newer/parallel", func(b *testing.B) {
			m, ids, _ := filled()
			var worker atomic.Int64
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
					buf, _ = m.OfferAppend(buf[:0], ids[i], codec.Stamp{Sec: sec}, line)
				}
			})
		})
		b.Run(impl.name+"/offer-new", func(b *testing.B) {
			m := impl.new()
			var id, line []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				id = strconv.AppendInt(append(id[:0], "client-"...), int64(i), 10)
				line = benchLine(line[:0], i, 1000)
				if _, stored := m.OfferAppend(nil, id, codec.Stamp{Sec: 1000}, line); !stored {
					b.Fatal("new client not stored")
				}
			}
		})
	}
}

func BenchmarkNodeIAMAT(b *testing.B) {
	b.Run("stale", func(b *testing.B) {
		n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: herd.NewCache(), Clock: fixedClock(kiwiReceived)})
		n.IAMAT(nil, parse(b, kiwiIAMAT))
		cmd := parse(b, "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.1")
		dst := make([]byte, 0, 256)
		b.SetBytes(int64(len(kiwiAT) + 1))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			dst = n.IAMAT(dst[:0], cmd)
		}
	})
	b.Run("stale/parallel", func(b *testing.B) {
		n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: herd.NewCache(), Clock: fixedClock(kiwiReceived)})
		n.IAMAT(nil, parse(b, kiwiIAMAT))
		b.SetBytes(int64(len(kiwiAT) + 1))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			line := []byte("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.1")
			var cmd codec.Command
			if err := codec.Parse(line, &cmd); err != nil {
				b.Error(err)
				return
			}
			dst := make([]byte, 0, 256)
			for pb.Next() {
				dst = n.IAMAT(dst[:0], &cmd)
			}
		})
	})
	b.Run("newer", func(b *testing.B) {
		n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: herd.NewCache(), Flooder: &countFlooder{}, Clock: fixedClock(kiwiReceived)})
		cmd := parse(b, kiwiIAMAT)
		dst := make([]byte, 0, 256)
		var tm []byte
		b.SetBytes(int64(len(kiwiAT) + 1))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			tm = strconv.AppendInt(tm[:0], int64(i+1), 10)
			cmd.Time, cmd.Stamp = tm, codec.Stamp{Sec: int64(i + 1)}
			dst = n.IAMAT(dst[:0], cmd)
		}
	})
}

// BenchmarkCacheMemory reports the heap a cache of a million clients holds
// per client, AT lines included (the line of bench/runner's measure: 93
// bytes), after the collector ran. One op fills one cache.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 1_000_000
	var cmd codec.Command
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := herd.NewCache()
		for i := range n {
			buf = fmt.Appendf(buf[:0], "AT Alford +0.263873386 client%07d.cs.ucla.edu +34.068930-118.445127 1479413884.392014450", i)
			if err := codec.Parse(buf, &cmd); err != nil {
				b.Fatal(err)
			}
			c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, buf)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/client")
	}
}
