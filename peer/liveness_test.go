package peer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/peer"
)

func linkState(m *node.Node, neighbour string) peer.LinkState {
	for _, s := range m.Links.Stats() {
		if s.Peer == neighbour {
			return s.State
		}
	}
	return peer.StateDown
}

// TestBlackholeDetected: Alford's link to Ball runs through a proxy that
// starts dropping everything without closing (a toxiproxy timeout toxic
// with timeout 0, both ways: a partition nobody announces). The link is
// declared down within peers.timeout (plus a heartbeat), and once the
// network heals an update sent meanwhile and one sent after reach Ball
// within peers.timeout plus one backoff and one dial timeout.
func TestBlackholeDetected(t *testing.T) {
	hb, timeout := time.Second, 5*time.Second // the defaults
	if testing.Short() {
		hb, timeout = 250*time.Millisecond, 1250*time.Millisecond
	}
	const backoffMax, dialTimeout = 500 * time.Millisecond, time.Second
	listen := freePorts(t, 2)
	p := proxied(t, "blackhole", listen[1])
	var logs logBuf
	cfg := pair(t, listen, p.Listen, fmt.Sprintf("peers: {heartbeat: %v, timeout: %v, backoff_min: 50ms, backoff_max: %v, dial_timeout: %v, sync_interval: 1h}\n",
		hb, timeout, backoffMax, dialTimeout))
	h := start(t, cfg, nil, &logs)
	alford, ball := h.Node("Alford"), h.Node("Ball")
	waitUntil(t, 10*time.Second, "every link up", func() bool { return allUp(h) })
	c := testclient.Dial(t, alford.Addr())
	c.Ask(iamat("bh-0", 1_700_000_000))
	waitUntil(t, 5*time.Second, "Ball to hear of bh-0", func() bool { return ball.Node.Lookup([]byte("bh-0")) != nil })
	time.Sleep(2 * hb) // both sides have pinged: the timeouts are armed

	addToxic(t, p, `{"name": "bh_up", "type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}}`)
	addToxic(t, p, `{"name": "bh_down", "type": "timeout", "stream": "downstream", "attributes": {"timeout": 0}}`)
	cut := time.Now()
	c.Ask(iamat("bh-1", 1_700_000_001)) // sent into the blackhole, or not at all
	waitUntil(t, timeout+hb+2*time.Second, "Alford's link to Ball down", func() bool { return linkState(alford, "Ball") != peer.StateUp })
	detect := time.Since(cut)
	if detect > timeout+hb {
		t.Errorf("blackhole detected after %v, want within peers.timeout %v (+ a heartbeat)", detect, timeout)
	}
	time.Sleep(timeout) // stay cut a while: redials fail meanwhile

	for _, name := range []string{"bh_up", "bh_down"} {
		if err := p.Toxics.RemoveToxic(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	healed := time.Now()
	c.Ask(iamat("bh-2", 1_700_000_002))
	waitUntil(t, timeout+backoffMax+dialTimeout+5*time.Second, "Ball to hear of bh-1 and bh-2", func() bool {
		return ball.Node.Lookup([]byte("bh-1")) != nil && ball.Node.Lookup([]byte("bh-2")) != nil
	})
	repair := time.Since(healed)
	if repair > timeout+backoffMax+dialTimeout {
		t.Errorf("updates flowed again %v after the network healed, want within %v", repair, timeout+backoffMax+dialTimeout)
	}
	waitUntil(t, 5*time.Second, "every cache identical", func() bool { return converged(h.Nodes, 3) })
	// Either side may notice first (the proxy passes on the close of the
	// side that gave up).
	if len(logs.lines("", "silent for peers.timeout")) == 0 {
		t.Error("no node logged the silent neighbour")
	}
	t.Logf("blackhole (heartbeat %v, timeout %v): link down %v after the cut; updates at Ball %v after the network healed",
		hb, timeout, detect.Round(time.Millisecond), repair.Round(time.Millisecond))
}
