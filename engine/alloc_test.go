//go:build !race

package engine_test

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/herdnet/herd/internal/testclient"
)

// TestIAMATPathAllocs proves the node's request path allocates nothing for
// IAMATs that are not newer than what it holds (the common case under load
// once clients stop moving, and every hop of a flood past the first): it
// counts every allocation in the process while one client pipelines 20,000
// such IAMATs through a real socket. Newer ones: TestNewerIAMATPathAllocs.
func TestIAMATPathAllocs(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Ball") // no logger: per-line logging is off
	c := testclient.Dial(t, h.Nodes[0].Addr())
	var store, req strings.Builder
	for i := range 100 {
		fmt.Fprintf(&store, "IAMAT client%d +34.068930-118.445127 1479413884.%d\n", i, i)
		fmt.Fprintf(&req, "IAMAT client%d +34.068930-118.445127 1479413883.%d\n", i, i) // older
	}
	batch := []byte(req.String())
	c.Send(store.String())
	first := make([]byte, 0, 16<<10)
	for range 100 {
		first = append(first, c.Line()...)
	}
	buf := make([]byte, len(first))
	round := func() {
		if _, err := c.Conn.Write(batch); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c.Conn, buf); err != nil {
			t.Fatal(err)
		}
	}
	round()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const rounds = 200
	for range rounds {
		round()
	}
	runtime.ReadMemStats(&after)
	if string(buf) != string(first) {
		t.Fatalf("stale IAMATs must get the stored lines back")
	}
	perReq := float64(after.Mallocs-before.Mallocs) / (rounds * 100)
	t.Logf("%.4f allocations per IAMAT (whole process)", perReq)
	if perReq > 0.01 {
		t.Fatalf("%.4f allocations per IAMAT on the request path, want 0", perReq)
	}
}

// TestNewerIAMATPathAllocs is TestIAMATPathAllocs with every IAMAT newer
// than the one held, so each is stored (a copy into the cache's arena) and
// flooded: that allocates nothing per request either (amortised: arena
// slabs and free lists are reused).
func TestNewerIAMATPathAllocs(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Ball")
	c := testclient.Dial(t, h.Nodes[0].Addr())
	const clients = 100
	var req strings.Builder
	var fracAt []int // where each line's nine fraction digits start
	for i := range clients {
		fmt.Fprintf(&req, "IAMAT client%d +34.068930-118.445127 1479413884.", i)
		fracAt = append(fracAt, req.Len())
		req.WriteString("000000000\n")
	}
	batch := []byte(req.String())
	tick := 0
	round := func() {
		tick++
		for _, at := range fracAt {
			for k, v := 8, tick; k >= 0; k, v = k-1, v/10 {
				batch[at+k] = byte('0' + v%10)
			}
		}
		if _, err := c.Conn.Write(batch); err != nil {
			t.Fatal(err)
		}
		for range clients {
			if _, err := c.R.ReadSlice('\n'); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 50 {
		round()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const rounds = 200
	for range rounds {
		round()
	}
	runtime.ReadMemStats(&after)
	if n := h.Nodes[0].Node.Cache().Len(); n != clients {
		t.Fatalf("cache holds %d clients, want %d", n, clients)
	}
	perReq := float64(after.Mallocs-before.Mallocs) / (rounds * clients)
	t.Logf("%.4f allocations per newer IAMAT (whole process)", perReq)
	if perReq > 0.01 {
		t.Fatalf("%.4f allocations per newer IAMAT on the request path, want 0", perReq)
	}
}
