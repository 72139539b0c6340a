package peer_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/peer"
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
	for _, s := range m.Links.Stats() {
		if s.Peer == neighbour {
			return s.Since
		}
	}
	return time.Time{}
}

func up(m *node.Node, neighbour string) bool {
	for _, s := range m.Links.Stats() {
		if s.Peer == neighbour {
			return s.State == peer.StateUp
		}
	}
	return false
}

// proxied starts an embedded toxiproxy from a free port to target and
// returns it; it stops when the test ends.
func proxied(t *testing.T, name, target string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, freePorts(t, 1)[0], target)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func addToxic(t *testing.T, p *toxiproxy.Proxy, json string) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(json)); err != nil {
		t.Fatal(err)
	}
}

// slowReader forwards connections from a free loopback port to target,
// reading from each at most chunk bytes every pause, and nothing at all
// while stall is set (the other direction flows freely), and returns its
// address. It stops when the test ends.
func slowReader(t *testing.T, target string, chunk int, pause time.Duration, stall *atomic.Bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			_ = in.(*net.TCPConn).SetReadBuffer(chunk)
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(in, out); in.Close() })
			wg.Go(func() {
				defer out.Close()
				buf := make([]byte, chunk)
				for {
					for stall.Load() {
						time.Sleep(pause)
					}
					n, err := in.Read(buf)
					if _, werr := out.Write(buf[:n]); err != nil || werr != nil {
						return
					}
					time.Sleep(pause)
				}
			})
		}
	})
	return ln.Addr().String()
}

// pair is a two-node herd, Alford and Ball, where Alford reaches Ball
// through front (a proxy) and Ball reaches Alford directly.
func pair(t *testing.T, listen []string, front, extra string) *config.Config {
	return mustParse(t, fmt.Sprintf("nodes:\n  - {name: Alford, listen: %q, neighbors: [Ball]}\n  - {name: Ball, listen: %q, address: %q}\n%s",
		listen[0], listen[1], front, extra))
}

// TestSlowNeighbourNothingDropped: Alford's link to Ball runs through a
// forwarder that reads 32 KB every 20 ms (with a small receive buffer, so
// the kernel pushes back) and stops reading during a burst of updates.
// Every update of a client that arrives while the client waits in the
// link's pending set coalesces into one send of its newest line, so Ball
// ends with exactly Alford's view with no sync but the one at link-up:
// nothing was dropped and nothing needed repair.
func TestSlowNeighbourNothingDropped(t *testing.T) {
	listen := freePorts(t, 2)
	var stall atomic.Bool
	front := slowReader(t, listen[1], 32<<10, 20*time.Millisecond, &stall)
	var logs logBuf
	// A timeout that a slow neighbour under the race detector does not
	// reach: this test is about flow control, not liveness.
	h := start(t, pair(t, listen, front, "peers: {sync_interval: 1h, timeout: 1m}\n"), nil, &logs)
	alford, ball := h.Node("Alford"), h.Node("Ball")
	waitUntil(t, 10*time.Second, "every link up", func() bool { return allUp(h) })

	const clients, rounds = 2000, 40
	c := testclient.Dial(t, alford.Addr())
	stall.Store(true)
	maxPending := 0
	for k := range rounds {
		var b strings.Builder
		for i := range clients {
			fmt.Fprintf(&b, "%s\n", iamat(fmt.Sprintf("slow-%d", i), 1_700_000_000+int64(k)))
		}
		c.Send(b.String())
		for range clients {
			c.Line()
		}
		for _, s := range alford.Links.Stats() {
			maxPending = max(maxPending, s.Pending)
		}
	}
	stall.Store(false)
	waitUntil(t, time.Minute, "Ball to hold Alford's view", func() bool { return converged(h.Nodes, clients) })
	st := alford.Links.Stats()[0]
	if st.Syncs != 1 || st.Reconnects != 0 {
		t.Errorf("Alford's link to Ball: %d syncs, %d reconnects; want the one sync at link-up; %q", st.Syncs, st.Reconnects, logs.lines("", "down"))
	}
	if maxPending > 2*clients {
		// A client waits once in the set and at most once more in the
		// batch being written.
		t.Errorf("%d updates pending at most, want at most %d (two per client)", maxPending, 2*clients)
	}
	if st.Coalesced == 0 {
		t.Error("no update coalesced: the neighbour was never slow enough to test flow control")
	}
	if n := ball.Node.Cache().Len(); n != clients {
		t.Errorf("Ball holds %d clients, want %d", n, clients)
	}
	t.Logf("slow neighbour: %d updates, %d sent, %d coalesced, at most %d pending", clients*rounds, st.Sent, st.Coalesced, maxPending)
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
	var syncs, coalesced uint64
	for _, m := range h.Nodes {
		for _, s := range m.Links.Stats() {
			syncs += s.Syncs
			coalesced += s.Coalesced
		}
	}
	t.Logf("chaos: %d proxy resets in %v, %v IAMATs, %d clients; identical %v after the load stopped; %d syncs, %d updates coalesced",
		resets, chaos, sent, h.Nodes[0].Node.Cache().Len(), time.Since(settled).Round(time.Millisecond), syncs, coalesced)
}
