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
// such IAMATs through a real socket. Storing a newer location allocates
// exactly the copy the cache keeps (see herd's tests).
func TestIAMATPathAllocs(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Ball") // no logger: per-line logging is off
	c := testclient.Dial(t, h.Members[0].Addr())
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
