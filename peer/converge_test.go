package peer_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

// TestRelinkAfterRestart: a neighbour that restarts hears of an update sent
// elsewhere as soon as it links back in, not after its neighbours' backoff.
// Welsh restarts after being down long enough for Alford's
// backoff (min 400 ms here) to grow; right after it is back, a new IAMAT
// arrives at Alford, and the time until Welsh holds it is measured.
func TestRelinkAfterRestart(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 5
	}
	var logs logBuf
	addrs := freePorts(t, 5)
	cfg := ring(t, addrs, nil, "security: {secret: relink}\npeers: {backoff_min: 400ms, backoff_max: 3s}\n")
	h := start(t, cfg, []string{"Alford", "Ball", "Hamilton", "Holiday"}, &logs)
	welsh := start(t, cfg, []string{"Welsh"}, &logs).Nodes[0]

	var delays, relinks []time.Duration
	for i := range runs {
		stopMember(t, welsh)
		time.Sleep(time.Duration(500+rand.IntN(500)) * time.Millisecond) // Alford backs off meanwhile
		welsh = start(t, cfg, []string{"Welsh"}, &logs).Nodes[0]
		// Welsh dials Alford at once; wait for that handshake, then report.
		waitUntil(t, 5*time.Second, "Welsh's link to Alford", func() bool { return up(welsh, "Alford") })
		client := fmt.Sprintf("relink-%d", i)
		alford := testclient.Dial(t, h.Node("Alford").Addr())
		sent := time.Now()
		alford.Ask(iamat(client, 1_700_000_000+int64(i)))
		waitUntil(t, 5*time.Second, "Welsh to hear of "+client, func() bool { return welsh.Node.Lookup([]byte(client)) != nil })
		delays = append(delays, time.Since(sent))
		// And how long after Welsh's link to Alford came up Alford's link
		// to Welsh did.
		waitUntil(t, 5*time.Second, "Alford's link to Welsh", func() bool { return up(h.Node("Alford"), "Welsh") })
		relinks = append(relinks, since(h.Node("Alford"), "Welsh").Sub(since(welsh, "Alford")))
	}
	slices.Sort(relinks)
	t.Logf("relink: Alford's link to Welsh came up min %v, median %v, p90 %v, max %v after Welsh's link to Alford",
		relinks[0], relinks[len(relinks)/2], relinks[len(relinks)*9/10], relinks[len(relinks)-1])
	slices.Sort(delays)
	t.Logf("relink: new IAMAT at Alford reached restarted Welsh in min %v, median %v, p90 %v, max %v over %d restarts",
		delays[0], delays[len(delays)/2], delays[len(delays)*9/10], delays[len(delays)-1], len(delays))
	if delays[len(delays)/2] > 100*time.Millisecond || delays[len(delays)-1] > time.Second {
		t.Errorf("relink too slow: %v", delays)
	}
}

func since(m *node.Node, neighbour string) time.Time {
	for _, s := range m.Links.Status() {
		if s.Name == neighbour {
			return s.Since
		}
	}
	return time.Time{}
}

func up(m *node.Node, neighbour string) bool {
	for _, s := range m.Links.Status() {
		if s.Name == neighbour {
			return s.Up
		}
	}
	return false
}

// TestBurstBeyondQueue: a burst far larger than the peer queue overflows
// it; the drops are counted, logged as a summary, and the digest sync they
// trigger makes every cache identical.
func TestBurstBeyondQueue(t *testing.T) {
	var logs logBuf
	h := start(t, ring(t, zeros(5), nil, "security: {secret: burst}\npeers: {queue: 8, backoff_min: 10ms, backoff_max: 200ms, sync_interval: 1h}\n"), nil, &logs)
	waitUntil(t, 10*time.Second, "every link up", func() bool { return allUp(h) })
	const n = 20000
	c := testclient.Dial(t, h.Node("Alford").Addr())
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s\n", iamat(fmt.Sprintf("burst-%d", i), 1_700_000_000))
	}
	c.Send(b.String())
	for range n {
		c.Line()
	}
	waitUntil(t, 20*time.Second, "every cache identical", func() bool { return converged(h.Nodes, n) })
	var dropped uint64
	for _, m := range h.Nodes {
		for _, s := range m.Links.Status() {
			dropped += s.Dropped
		}
	}
	if dropped == 0 {
		t.Log("no update was dropped: the queue never overflowed on this machine")
	}
	t.Logf("burst of %d into a queue of 8: %d updates dropped, repaired by digest sync", n, dropped)
}

// TestChaosConverges puts an embedded toxiproxy in front of every node's
// port (neighbours dial the proxies) and, under a steady load of IAMATs at
// every node, resets a random proxy (every connection through it) every
// 200-500 ms for 10 s. Afterwards every cache must be identical.
func TestChaosConverges(t *testing.T) {
	chaos := 10 * time.Second
	if testing.Short() {
		chaos = 3 * time.Second
	}
	listen, front := freePorts(t, 5), freePorts(t, 5)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxies := make([]*toxiproxy.Proxy, 5)
	for i := range proxies {
		proxies[i] = toxiproxy.NewProxy(srv, fmt.Sprintf("node%d", i), front[i], listen[i])
		if err := proxies[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, p := range proxies {
			p.Stop()
		}
	})
	var b strings.Builder
	names := []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	nbs := map[string]string{"Alford": "[Hamilton, Welsh]", "Ball": "[Holiday, Welsh]", "Hamilton": "[Holiday]", "Holiday": "[]", "Welsh": "[]"}
	b.WriteString("nodes:\n")
	for i, n := range names {
		fmt.Fprintf(&b, "  - {name: %s, listen: %q, address: %q, neighbors: %s}\n", n, listen[i], front[i], nbs[n])
	}
	b.WriteString("security: {secret: chaos}\npeers: {backoff_min: 10ms, backoff_max: 300ms, sync_interval: 500ms}\n")
	cfg := mustParse(t, b.String())
	var logs logBuf
	h := start(t, cfg, nil, &logs)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent [5]int
	for i, m := range h.Nodes {
		c := testclient.Dial(t, m.Addr())
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				// A small set of clients, updated again and again, so
				// newer-wins and ties are exercised too.
				c.Ask(iamat(fmt.Sprintf("chaos-%d", rand.IntN(2000)), 1_700_000_000+int64(k)))
				sent[i]++
			}
		})
	}
	resets := 0
	end := time.Now().Add(chaos)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(200+rand.IntN(300)) * time.Millisecond)
		p := proxies[rand.IntN(len(proxies))]
		p.Stop()
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		resets++
	}
	close(stop)
	wg.Wait()
	settled := time.Now()
	waitUntil(t, 20*time.Second, "every cache identical after the chaos", func() bool { return converged(h.Nodes, 1) })
	skewed := 0
	for _, m := range h.Nodes {
		c, sum := m.Node.Digest()
		var wc, ws uint64
		m.Node.Cache().Range(func(_ []byte, _ codec.Stamp, line []byte) bool {
			wc++
			ws += herd.LineHash(line)
			return true
		})
		if c != wc || sum != ws {
			skewed++
		}
	}
	t.Logf("chaos: %d of 5 running digests skewed by racing stores", skewed)
	var syncs, dropped uint64
	for _, m := range h.Nodes {
		for _, s := range m.Links.Status() {
			syncs += s.Syncs
			dropped += s.Dropped
		}
	}
	t.Logf("chaos: %d proxy resets in %v, %v IAMATs, %d clients; identical %v after the load stopped; %d syncs, %d dropped",
		resets, chaos, sent, h.Nodes[0].Node.Cache().Len(), time.Since(settled).Round(time.Millisecond), syncs, dropped)
}
