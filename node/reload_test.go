package node_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/peer"
)

func linkStates(m *node.Node) map[string]peer.LinkState {
	out := map[string]peer.LinkState{}
	for _, l := range m.Links.Stats() {
		out[l.Peer] = l.State
	}
	return out
}

// TestReload changes Alford's neighbours (Welsh out, Ball in) and the line
// limit of a running herd: a client connected before the reload keeps its
// connection and gets the new limit, the links follow the new topology, and
// updates flow over the new link.
func TestReload(t *testing.T) {
	cfg := testConfig()
	names := []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	h, err := node.StartHerd(cfg, names, node.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	alford := h.Node("Alford")
	testclient.Eventually(t, "Alford's links up", func() bool {
		s := linkStates(alford)
		return s["Hamilton"] == peer.StateUp && s["Welsh"] == peer.StateUp
	})
	c := testclient.Dial(t, alford.Addr())
	c.Ask("IAMAT before +1.0+1.0 1")

	next := testConfig()
	// Alford: Welsh out, Ball in. max_line applies to peer links too: the
	// AT lines between nodes must still fit.
	next.Nodes[0].Neighbors = []string{"Hamilton", "Ball"}
	next.Limits.MaxLine = 100
	notes, err := h.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "Alford: neighbours added [Ball], removed [Welsh]") }) {
		t.Errorf("notes %q", notes)
	}
	testclient.Eventually(t, "Alford linked with Hamilton and Ball only", func() bool {
		s := linkStates(alford)
		return len(s) == 2 && s["Hamilton"] == peer.StateUp && s["Ball"] == peer.StateUp
	})
	if s := linkStates(h.Node("Welsh")); len(s) != 1 || s["Ball"] != peer.StateUp {
		t.Errorf("Welsh's links after the reload: %v", s)
	}
	// The same connection, the new limit.
	long := "IAMAT " + strings.Repeat("x", 120) + " +1.0+1.0 2"
	if got := c.Ask(long); got != "? "+long[:100]+"\n" {
		t.Errorf("a line over the reloaded limit: %q", got)
	}
	// A report at Ball reaches Alford directly over the new link.
	b := testclient.Dial(t, h.Node("Ball").Addr())
	line := b.Ask("IAMAT kiwi +34.068930-118.445127 1479413884.5")
	testclient.Eventually(t, "Alford to hold kiwi", func() bool {
		e := alford.Node.Lookup([]byte("kiwi"))
		return e != nil && string(e.Line)+"\n" == line
	})

	// A config without a running node is refused whole.
	bad := testConfig()
	bad.Nodes = bad.Nodes[:4]
	bad.Nodes[1].Neighbors = []string{"Holiday"}
	if _, err := h.Reload(bad); err == nil || !strings.Contains(err.Error(), "Welsh") {
		t.Errorf("reload without Welsh: %v", err)
	}
	if s := linkStates(alford); len(s) != 2 || s["Ball"] != peer.StateUp {
		t.Errorf("a refused reload changed the links: %v", s)
	}
}

// TestReloadRestartOnlyLimits: the limits fixed at start (max_conns and
// the three timeouts in the engine, max_future in the node) are not applied
// by a reload: it must say they need a restart, keep them in the config in
// force, and compare a later reload against the values in force.
func TestReloadRestartOnlyLimits(t *testing.T) {
	cfg := testConfig()
	h, err := node.StartHerd(cfg, []string{"Alford"}, node.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	next := testConfig()
	next.Limits.IdleTimeout = cfg.Limits.IdleTimeout + 7*time.Second
	next.Limits.MaxConns = 123
	next.Limits.MaxFuture = time.Hour
	next.Persistence.SnapshotInterval = cfg.Persistence.SnapshotInterval + time.Second
	next.Limits.MaxLine = 1000
	next.Limits.ShutdownTimeout = cfg.Limits.ShutdownTimeout + time.Second
	next.Peers.Heartbeat = cfg.Peers.Heartbeat + time.Second
	notes, err := h.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"limits.idle_timeout", "limits.max_conns", "limits.max_future"} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, want) && strings.Contains(n, "needs a restart") }) {
			t.Errorf("notes %q: want %s reported as needing a restart", notes, want)
		}
	}
	for _, want := range []string{"persistence settings need a restart: persistence.snapshot_interval", "peers settings need a restart: peers.heartbeat", "limits.max_line"} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("notes %q: want one starting %q", notes, want)
		}
	}
	if !slices.Contains(notes, fmt.Sprintf("limits.max_line %d -> 1000 applied", cfg.Limits.MaxLine)) {
		t.Errorf("notes %q: want max_line applied", notes)
	}
	if next.Limits.MaxConns != 123 {
		t.Errorf("Reload changed the caller's config")
	}
	// What is in force: the new shutdown_timeout (read at stop), the old
	// max_conns and max_future (read at start).
	next.Limits.ShutdownTimeout = 0 // Config must not alias the caller's
	if got := h.Config().Limits; got.ShutdownTimeout != cfg.Limits.ShutdownTimeout+time.Second ||
		got.MaxConns != cfg.Limits.MaxConns || got.MaxFuture != cfg.Limits.MaxFuture || got.MaxLine != 1000 {
		t.Errorf("config in force after the reload: %+v", got)
	}
	// Back to the file the node started with: nothing needs a restart.
	notes, err = h.Reload(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "a restart") }) {
		t.Errorf("reloading the running values: notes %q", notes)
	}
}
