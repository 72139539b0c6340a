//go:build !race

package herd_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

func TestAllocsCache(t *testing.T) {
	c := herd.NewCache()
	for i := range 1000 {
		offerAT(t, c, clientLine(i, 5))
	}
	dst := make([]byte, 0, 256)
	stale := []byte(clientLine(500, 4))
	cmd := parse(t, string(stale))
	if a := testing.AllocsPerRun(1000, func() {
		var stored bool
		if dst, stored = c.OfferAppend(dst[:0], cmd.ClientID, cmd.Stamp, stale); stored {
			t.Fatal("stale offer stored")
		}
	}); a != 0 {
		t.Errorf("stale OfferAppend: %v allocs, want 0", a)
	}
	same := []byte(clientLine(500, 5))
	if a := testing.AllocsPerRun(1000, func() { dst, _ = c.OfferAppend(dst[:0], cmd.ClientID, cmd.Stamp, same) }); a != 0 {
		t.Errorf("OfferAppend of the held line: %v allocs, want 0", a)
	}
	id := []byte("client-500")
	missing := []byte("client-nope")
	if a := testing.AllocsPerRun(1000, func() {
		var ok bool
		if dst, ok = c.AppendLine(dst[:0], id); !ok {
			t.Fatal("AppendLine missed")
		}
		if _, ok = c.AppendLine(dst[:0], missing); ok {
			t.Fatal("AppendLine found a missing client")
		}
	}); a != 0 {
		t.Errorf("AppendLine: %v allocs, want 0", a)
	}
}

// Storing a newer line is a copy into the shard's arena: no heap object per
// update, also when the line changes length and moves to another record
// (amortised: free lists and slabs are reused).
func TestAllocsCacheNewer(t *testing.T) {
	c := herd.NewCache()
	const clients = 1000
	for i := range clients {
		offerAT(t, c, clientLine(i, 1))
	}
	origins := make([]string, 18)
	for i := range origins {
		origins[i] = "N" + strings.Repeat("x", i) // lengths vary by up to 17 bytes
	}
	line := make([]byte, 0, 128)
	dst := make([]byte, 0, 256) // the reply buffer the held line is compared in
	var k int
	sec := int64(1)
	offer := func() {
		i := k % clients
		if i == 0 {
			sec++
		}
		line = append(line[:0], "AT "...)
		line = append(line, origins[k%len(origins)]...)
		line = append(line, " +0.000000001 "...)
		id := len(line)
		line = append(line, "client-"...)
		line = strconv.AppendInt(line, int64(i), 10)
		idEnd := len(line)
		line = append(line, " +1.0-2.0 "...)
		line = strconv.AppendInt(line, sec, 10)
		k++
		if _, stored := c.OfferAppend(dst[:0], line[id:idEnd], codec.Stamp{Sec: sec}, line); !stored {
			t.Fatalf("newer line %q not stored", line)
		}
	}
	for range 20_000 { // warm the free lists
		offer()
	}
	if a := testing.AllocsPerRun(10_000, offer); a != 0 {
		t.Errorf("newer OfferAppend: %v allocs per update, want 0", a)
	}
	if c.Len() != clients {
		t.Errorf("Len = %d, want %d", c.Len(), clients)
	}
}

func TestAllocsNode(t *testing.T) {
	n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: herd.NewCache(), Flooder: &countFlooder{}, Clock: fixedClock(kiwiReceived)})
	n.IAMAT(nil, parse(t, kiwiIAMAT))
	older := parse(t, "IAMAT kiwi.cs.ucla.edu +1.0+1.0 1479413800")
	dst := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(1000, func() { dst = n.IAMAT(dst[:0], older) }); a != 0 {
		t.Errorf("stale IAMAT: %v allocs, want 0", a)
	}
	if string(dst) != kiwiAT+"\n" {
		t.Errorf("stale IAMAT reply %q", dst)
	}
	upd := parse(t, "AT Ball +0.1 kiwi.cs.ucla.edu +1.0+1.0 1479413800")
	if a := testing.AllocsPerRun(1000, func() { dst = n.Update(dst[:0], upd, "Ball") }); a != 0 {
		t.Errorf("stale Update: %v allocs, want 0", a)
	}
	var cmd codec.Command
	var conn herd.Session
	lines := [][]byte{
		[]byte("IAMAT kiwi.cs.ucla.edu +1.0+1.0 1479413800"),
		[]byte("LLL"),
		[]byte("WHATSAT kiwi.cs.ucla.edu 10 5"),
		[]byte("AT Ball +0.1 kiwi.cs.ucla.edu +1.0+1.0 1479413800"),
	}
	for _, l := range lines {
		if a := testing.AllocsPerRun(1000, func() { dst, _, _ = n.Serve(dst[:0], l, &cmd, &conn) }); a != 0 {
			t.Errorf("Serve(%q): %v allocs, want 0", l, a)
		}
	}
}

// Warming a read's lookups allocates nothing.
func TestAllocsWarm(t *testing.T) {
	c := herd.NewCache()
	for i := range 80_000 { // large enough for Warm to work (it skips small caches)
		offerAT(t, c, clientLine(i, 5))
	}
	n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: c})
	var buf []byte
	for i := range 16 {
		buf = append(buf, "IAMAT client-"+strconv.Itoa(i*37)+" +1.0-2.0 6\n"...)
	}
	if a := testing.AllocsPerRun(1000, func() { n.Cache().Warm(buf) }); a != 0 {
		t.Errorf("Warm: %v allocs, want 0", a)
	}
}
