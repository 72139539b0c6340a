package peer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
)

// TestAttackLongLineReachesNeighbours: limits.max_line allows client lines
// up to 1 MiB, so a client may store an entry whose AT line is longer than
// the 64 KiB a peer link reads at once. Flooded, that line must reach the
// neighbour like any other; it must not break the link (which would then
// fail again on every sync: one long entry would keep the link down and
// the neighbours apart for good).
func TestAttackLongLineReachesNeighbours(t *testing.T) {
	listen := freePorts(t, 2)
	var logs logBuf
	cfg := mustParse(t, "nodes:\n  - {name: Alford, listen: "+listen[0]+", neighbors: [Ball]}\n  - {name: Ball, listen: "+listen[1]+"}\n"+
		"limits: {max_line: 1048576}\npeers: {backoff_min: 10ms, backoff_max: 100ms}\n")
	h := start(t, cfg, nil, &logs)
	waitUntil(t, 10*time.Second, "every link up", func() bool { return allUp(h) })
	c := testclient.Dial(t, h.Node("Alford").Addr())
	long := "long-" + strings.Repeat("x", 200<<10)
	c.Send(iamat(long, 1_700_000_000) + "\n" + iamat("after-the-long-one", 1_700_000_000) + "\n")
	for range 2 {
		if l := c.Line(); !strings.HasPrefix(l, "AT ") {
			t.Fatalf("reply %.80q", l)
		}
	}
	waitUntil(t, 10*time.Second, "Ball to hold both clients", func() bool { return converged(h.Nodes, 2) })
	if n := len(logs.lines("Ball", "line too long")); n > 0 {
		t.Errorf("Ball closed the link %d times on a line too long", n)
	}
}
