package node_test

import (
	"fmt"
	"maps"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/peer"
)

func cacheView(c *herd.Cache) map[string]string {
	out := map[string]string{}
	c.Range(func(id []byte, _ codec.Stamp, line []byte) bool {
		out[string(id)] = string(line)
		return true
	})
	return out
}

// TestAttackReloadStorm: an operator's script sends SIGHUP in a loop,
// flipping Alford's neighbours between three sets (one of them empty,
// cutting Alford off) while clients report to every node. When the storm
// ends on the first config, every link comes back, every cache holds the
// same view (each link's sync at link-up carries what the cut missed), and
// no goroutine of the links the storm closed is left behind.
func TestAttackReloadStorm(t *testing.T) {
	cfg := testConfig()
	names := cfg.Names()
	h, err := node.StartHerd(cfg, names, node.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	allUp := func() bool {
		for _, n := range h.Nodes {
			for _, s := range n.Links.Stats() {
				if s.State != peer.StateUp {
					return false
				}
			}
		}
		return true
	}
	testclient.Eventually(t, "every link up", allUp)
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()

	sets := [][]string{{"Hamilton", "Ball"}, {}, cfg.Nodes[0].Neighbors}
	const reloads, perNode = 150, 600
	var wg sync.WaitGroup
	for _, n := range h.Nodes {
		c := testclient.Dial(t, n.Addr())
		wg.Go(func() {
			for i := range perNode {
				c.Ask(fmt.Sprintf("IAMAT %s-%d +1.0+1.0 %d", n.Name(), i%50, 1000+i))
			}
		})
	}
	for i := range reloads {
		next := testConfig()
		next.Nodes[0].Neighbors = sets[i%len(sets)]
		if _, err := h.Reload(next); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if _, err := h.Reload(testConfig()); err != nil {
		t.Fatal(err)
	}
	testclient.Eventually(t, "every link up after the storm", allUp)
	want := 5 * 50
	deadline := time.Now().Add(10 * time.Second)
	for {
		first := cacheView(h.Nodes[0].Node.Cache())
		same := len(first) == want
		for _, n := range h.Nodes[1:] {
			same = same && maps.Equal(cacheView(n.Node.Cache()), first)
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			for _, n := range h.Nodes {
				t.Logf("%s holds %d clients", n.Name(), n.Node.Cache().Len())
			}
			t.Fatal("the caches differ after the storm")
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+5 { // + the five clients' reads settling
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after the storm, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
