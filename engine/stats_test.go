package engine_test

import (
	"net"
	"testing"
	"time"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/internal/testclient"
)

// TestStatsCountLinesAndConnections checks the per-loop counters summed by
// Stats: every kind of line, and connections opened and closed, over two
// event loops.
func TestStatsCountLinesAndConnections(t *testing.T) {
	m := startPlacesNode(t, offline(t), 5*time.Second)
	s := m.Server.(*engine.Server)
	c1 := testclient.Dial(t, m.Addr())
	c2 := testclient.Dial(t, m.Addr())
	c1.Ask("IAMAT kiwi +34.068930-118.445127 1479413884.5")
	c2.Ask("IAMAT lemon +34.068930-118.445127 1479413884.5")
	c1.Ask("LLL")
	c2.Ask("WHATSAT nobody 10 5") // unknown client: invalid
	c1.Send("WHATSAT kiwi 10 1\n")
	readWhatsat(c1)
	c2.Ask("AT Ball +0.1 lime +1.0+1.0 1479413884.5") // a client's AT (open herd) gets the held line
	// A connection that opens with PEER is counted, then handed to the
	// peer links: it no longer counts as one of the engine's connections.
	c3 := testclient.Dial(t, m.Addr())
	c3.Send("PEER Hamilton\n")

	want := [...]uint64{engine.LineIAMAT: 2, engine.LineWHATSAT: 1, engine.LineAT: 1, engine.LinePEER: 1, engine.LineInvalid: 2}
	testclient.Eventually(t, "every line counted", func() bool { return s.Stats().Lines == want })
	testclient.Eventually(t, "the handed-off connection uncounted", func() bool { return s.Stats().Connections == 2 })
	if st := s.Stats(); st.Connections != 2 || st.Accepted != 3 || st.Refused != 0 {
		t.Errorf("stats %+v", st)
	}
	c2.Conn.Close()
	testclient.Eventually(t, "the closed connection uncounted", func() bool { return s.Stats().Connections == 1 })
	for k, name := range engine.LineKinds {
		t.Logf("%s: %d", name, s.Stats().Lines[k])
	}
}

// TestStatsRefusedConnectionsUncounted: a connection refused over max_conns
// was counted as opened but never as closed (OnClose finds no state), so
// herd_connections and /status "connections" grew by one for every refusal
// and never came back down.
func TestStatsRefusedConnectionsUncounted(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{MaxConns: 1}, nil, 0)
	s := m.Server.(*engine.Server)
	pr := newProbe(t, m.Addr()) // the one client
	pr.check(t)
	const n = 10
	for range n {
		c, err := net.DialTimeout("tcp", m.Addr(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("IAMAT x +1.0+1.0 1\n"))
		if !closedByNode(c, 10*time.Second) {
			t.Fatal("a connection over max_conns was not closed")
		}
		c.Close()
	}
	testclient.Eventually(t, "every refusal counted", func() bool { return s.Stats().Refused >= n })
	if st := s.Stats(); st.Connections != 1 {
		t.Errorf("stats after %d refusals with one client connected: %+v; want Connections 1", n, st)
	}
	pr.check(t)
}
