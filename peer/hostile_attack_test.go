package peer_test

import (
	"bufio"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
)

// hostileBall links in to Alford as Ball over a raw connection and returns
// it after the handshake.
func hostileBall(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("PEER Ball\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := r.ReadString('\n'); err != nil || l != "PEER Alford\n" {
		t.Fatalf("handshake: %q, %v", l, err)
	}
	return c, r
}

// TestAttackGarbageFromNeighbour: a broken or hostile neighbour, once
// linked in, sends malformed, oversized and out-of-order sync messages,
// PINGs with arguments and binary junk. Each either is ignored or ends that
// link; the node goes on serving its clients and taking the neighbour's
// updates on its next link, and only what is well formed is applied.
func TestAttackGarbageFromNeighbour(t *testing.T) {
	listen := freePorts(t, 2)
	var logs logBuf
	cfg := mustParse(t, "nodes:\n  - {name: Alford, listen: "+listen[0]+", neighbors: [Ball]}\n  - {name: Ball, listen: "+listen[1]+"}\n"+
		"peers: {backoff_min: 10ms, backoff_max: 100ms}\n")
	h := start(t, cfg, []string{"Alford"}, &logs)
	alford := h.Node("Alford")
	at := "AT Ball +0.5 good-%d +1.0+1.0 1000.5"
	for i, garbage := range []string{
		"SYNC 99 1 1\n",               // bits out of range
		"SYNC 10 x y\n",               // not numbers
		"SYNC\n",                      // no fields
		"WANT 3\nabc",                 // not whole bucket numbers
		"WANT 99999999999999999999\n", // beyond any int
		"WANT -4\n",                   // negative
		"WANT 8\n\xff\xff\xff\xff\xff\xff\xff\xff",          // buckets beyond the digest
		"HAVE 8\n12345678",                                  // not a message this side takes
		"DIGEST 1 8\n12345678",                              // nor this
		"PING PING\nPING\n",                                 // a heartbeat with arguments, then one
		"\x00\x01\x02\xfe\xff\n",                            // junk
		"AT\n", "AT Ball\n", "AT Ball +0.5 x +91.0+1.0 1\n", // malformed updates
		strings.Repeat("z", 100<<10) + "\n", // long junk
	} {
		c, r := hostileBall(t, alford.Addr())
		_, _ = c.Write([]byte(garbage))
		// A well-formed update after the garbage: applied if the link
		// survived, and in any case on the next link.
		_, _ = c.Write([]byte(strings.Replace(at, "%d", string(rune('a'+i)), 1) + "\n"))
		_ = c.SetReadDeadline(time.Now().Add(80 * time.Millisecond))
		for { // whatever the node answers (a DIGEST, a HAVE, a PING), until it closes or goes quiet
			if _, err := r.ReadString('\n'); err != nil {
				break
			}
		}
		c.Close()
		cl := testclient.Dial(t, alford.Addr())
		if got := cl.Ask("IAMAT probe +1.0+1.0 5"); !strings.HasPrefix(got, "AT Alford ") {
			t.Fatalf("after %.40q: the node answered %q", garbage, got)
		}
	}
	c, _ := hostileBall(t, alford.Addr())
	if _, err := c.Write([]byte("AT Ball +0.5 last +1.0+1.0 1000.5\n")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the well-formed update after all the garbage", func() bool {
		return alford.Node.Lookup([]byte("last")) != nil
	})
	for _, id := range []string{"x", "AT"} {
		if alford.Node.Lookup([]byte(id)) != nil {
			t.Errorf("a malformed update stored %q", id)
		}
	}
}

// TestAttackReconnectLoop: something claiming to be Ball links in to
// Alford and hangs up, two hundred times in a row, while the real Ball is
// linked and clients report to Alford. Every such link must leave nothing
// behind (its goroutines end), the real links stay usable, and the two
// caches end identical.
func TestAttackReconnectLoop(t *testing.T) {
	listen := freePorts(t, 2)
	var logs logBuf
	cfg := mustParse(t, "nodes:\n  - {name: Alford, listen: "+listen[0]+", neighbors: [Ball]}\n  - {name: Ball, listen: "+listen[1]+"}\n"+
		"peers: {backoff_min: 10ms, backoff_max: 100ms}\n")
	h := start(t, cfg, nil, &logs)
	alford := h.Node("Alford")
	waitUntil(t, 10*time.Second, "every link up", func() bool { return allUp(h) })
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	cl := testclient.Dial(t, alford.Addr())
	for i := range 200 {
		c, _ := hostileBall(t, alford.Addr())
		if i%2 == 0 {
			_, _ = c.Write([]byte("SYNC 10 0 0\n"))
		}
		c.Close()
		cl.Ask(iamat("loop-"+strconv.Itoa(i%20), int64(1000+i)))
	}
	waitUntil(t, 10*time.Second, "both caches identical", func() bool { return converged(h.Nodes, 20) })
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after 200 short links, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !allUp(h) {
		t.Error("a link is down after the loop")
	}
}
