package peer_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
)

// TestAttackStopWhileFlushingToSlowReader: SIGTERM while Alford's link to
// Ball is backed up behind a neighbour that reads, but slowly (16 KB every
// 100 ms: never slow enough for a write to time out; the flush would take
// a minute). Stop must return about when its context ends, and when it
// has returned nothing of the node may still run: a flush that outlives
// Stop is a goroutine leak, and one that holds a restarted node's links
// open.
func TestAttackStopWhileFlushingToSlowReader(t *testing.T) {
	listen := freePorts(t, 2)
	front := slowReader(t, listen[1], 16<<10, 100*time.Millisecond, new(atomic.Bool))
	var logs logBuf
	h := start(t, pair(t, listen, front, "peers: {sync_interval: 1h}\n"), nil, &logs)
	alford := h.Node("Alford")
	waitUntil(t, 10*time.Second, "every link up", func() bool { return allUp(h) })

	const clients = 60000 // lines of ~170 bytes: 10 MB, more than the kernel buffers hold
	c := testclient.Dial(t, alford.Addr())
	var b strings.Builder
	pad := strings.Repeat("p", 100)
	for i := range clients {
		fmt.Fprintf(&b, "%s\n", iamat(fmt.Sprintf("stop-%s-%d", pad, i), 1_700_000_000))
	}
	c.Send(b.String())
	for range clients {
		c.Line()
	}
	waitUntil(t, 5*time.Second, "the link to back up", func() bool {
		return alford.Links.Stats()[0].Pending > 0
	})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begun := time.Now()
	err := alford.Stop(ctx)
	took := time.Since(begun)
	t.Logf("Stop: %v after %v", err, took.Round(time.Millisecond))
	if took > 10*time.Second { // the flush would take a minute
		t.Errorf("Stop took %v with a context of 300ms", took)
	}
	// Whatever Stop gave up on must have ended with it.
	if g := closing(); g != "" {
		t.Fatalf("Stop returned while Alford's links are still closing:\n%s", g)
	}
}

// closing returns the stack of a goroutine inside Links.Close, if any.
func closing() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "peer.(*Links).Close") {
			return g
		}
	}
	return ""
}
