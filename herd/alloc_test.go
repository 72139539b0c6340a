//go:build !race

package herd_test

import (
	"testing"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

func TestAllocsCache(t *testing.T) {
	c := herd.NewCache()
	for i := range 1000 {
		offerAT(t, c, clientLine(i, 5))
	}
	stale := []byte(clientLine(500, 4))
	cmd := parse(t, string(stale))
	if a := testing.AllocsPerRun(1000, func() {
		if _, stored := c.Offer(cmd.ClientID, cmd.Stamp, stale); stored {
			t.Fatal("stale offer stored")
		}
	}); a != 0 {
		t.Errorf("stale Offer: %v allocs, want 0", a)
	}
	same := []byte(clientLine(500, 5))
	if a := testing.AllocsPerRun(1000, func() { c.Offer(cmd.ClientID, cmd.Stamp, same) }); a != 0 {
		t.Errorf("Offer of the held line: %v allocs, want 0", a)
	}
	id := []byte("client-500")
	missing := []byte("client-nope")
	if a := testing.AllocsPerRun(1000, func() {
		if c.Get(id) == nil || c.Get(missing) != nil {
			t.Fatal("Get wrong")
		}
	}); a != 0 {
		t.Errorf("Get: %v allocs, want 0", a)
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
	var conn herd.Conn
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
