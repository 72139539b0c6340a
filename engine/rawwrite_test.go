package engine_test

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/engine"
)

// TestRepliesInOrderPastFullSocket: a client with a tiny receive buffer
// sends 120,000 pipelined (11 MB of replies) IAMATs and reads nothing until it has sent them
// all, so the node's writes fill the socket: part of a reply batch goes
// out with the engine's raw write and the rest waits in gnet's buffer,
// behind which later batches must queue. Every reply must then arrive,
// once, in request order.
func TestRepliesInOrderPastFullSocket(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: time.Minute}, nil, 0)
	c := dialTiny(t, m.Addr())
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	const n = 120_000
	var req strings.Builder
	for i := range n {
		fmt.Fprintf(&req, "IAMAT order-%d +34.068930-118.445127 1479413884.%d\n", i, i)
	}
	sent := make(chan error, 1)
	go func() { _, err := c.Write([]byte(req.String())); sent <- err }()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for i := range n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		f := strings.Fields(line)
		if len(f) != 6 || f[0] != "AT" || f[3] != fmt.Sprintf("order-%d", i) || f[5] != fmt.Sprintf("1479413884.%d", i) {
			t.Fatalf("reply %d is %q", i, line)
		}
	}
}
