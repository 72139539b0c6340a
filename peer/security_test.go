package peer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/peer"
)

const secretYAML = "security: {secret: s3cret-for-tests}\npeers: {backoff_min: 10ms, backoff_max: 200ms}\n"

// TestSecretForgedLinesChangeNothing: with a secret, a client's forged AT
// line and its PEER line get "? line", and no node changes.
func TestSecretForgedLinesChangeNothing(t *testing.T) {
	var logs logBuf
	h := start(t, ring(t, zeros(5), nil, secretYAML), nil, &logs)
	waitUntil(t, 10*time.Second, "every link up", func() bool { return allUp(h) })

	c := testclient.Dial(t, h.Node("Hamilton").Addr())
	if got := c.Ask(iamat("victim", 1_700_000_000)); !strings.HasPrefix(got, "AT Hamilton ") {
		t.Fatalf("IAMAT = %q", got)
	}
	waitUntil(t, 10*time.Second, "the victim's location everywhere", func() bool { return converged(h.Nodes, 1) })
	before := view(h.Nodes[0].Node.Cache())

	forger := testclient.Dial(t, h.Node("Alford").Addr())
	for _, line := range []string{
		"AT Alford +0.1 victim +1.0+1.0 9999999999.0",
		"PEER Welsh",
		"AT Welsh +0.1 victim +1.0+1.0 9999999999.0",
		"AUTH 00",
	} {
		if got := forger.Ask(line); got != "? "+line+"\n" {
			t.Errorf("%q answered %q", line, got)
		}
	}
	// The secret form of the handshake gets a challenge, which a client
	// cannot answer: it is refused and the connection closed.
	hs := testclient.Dial(t, h.Node("Alford").Addr())
	if got := hs.Ask("PEER Welsh 0123456789abcdef0123456789abcdef"); !strings.HasPrefix(got, "PEER Alford ") || len(strings.Fields(got)) != 4 {
		t.Errorf("handshake answered %q", got)
	}
	if got := hs.Ask("AUTH 00"); got != "? AUTH 00\n" {
		t.Errorf("bad AUTH answered %q", got)
	}
	hs.Send("AT Welsh +0.1 victim +1.0+1.0 9999999999.0\n")
	time.Sleep(300 * time.Millisecond) // the finding: all five nodes changed within 0.3 s
	for _, m := range h.Nodes {
		if got := view(m.Node.Cache()); got["victim"] != before["victim"] || len(got) != len(before) {
			t.Errorf("%s changed: %v", m.Node.Name(), got)
		}
	}
}

// TestOpenHerdRefusesUnknownOrigin: without a secret a client's AT is
// accepted (the assignment's behaviour) only from an origin of the config.
func TestOpenHerdRefusesUnknownOrigin(t *testing.T) {
	var logs logBuf
	h := start(t, ring(t, zeros(5), nil, "peers: {backoff_min: 10ms, backoff_max: 200ms}\n"), nil, &logs)
	c := testclient.Dial(t, h.Node("Alford").Addr())
	line := "AT Nowhere +0.1 victim +1.0+1.0 1.0"
	if got := c.Ask(line); got != "? "+line+"\n" {
		t.Errorf("unknown origin answered %q", got)
	}
	line = "AT Ball +0.1 victim +1.0+1.0 1.0"
	if got := c.Ask(line); got != line+"\n" {
		t.Errorf("known origin answered %q", got)
	}
	waitUntil(t, 10*time.Second, "the open AT everywhere", func() bool { return converged(h.Nodes, 1) })
	if len(logs.lines("Alford", "no herd secret")) == 0 {
		t.Error("no warning about the missing secret")
	}
}

func allUp(h *node.Herd) bool {
	for _, m := range h.Nodes {
		for _, s := range m.Links.Stats() {
			if s.State != peer.StateUp {
				return false
			}
		}
	}
	return true
}

// TestWrongSecretIsolated: a node with another secret is refused at both
// ends, gets nothing, and the others still converge.
func TestWrongSecretIsolated(t *testing.T) {
	var logs logBuf
	addrs := freePorts(t, 5)
	good := ring(t, addrs, nil, secretYAML)
	bad := ring(t, addrs, nil, strings.Replace(secretYAML, "s3cret-for-tests", "another-secret", 1))
	h := start(t, good, []string{"Alford", "Ball", "Hamilton", "Holiday"}, &logs)
	welsh := start(t, bad, []string{"Welsh"}, &logs)

	c := testclient.Dial(t, h.Node("Ball").Addr())
	c.Ask(iamat("kiwi", 1_700_000_001))
	w := testclient.Dial(t, welsh.Nodes[0].Addr())
	w.Ask(iamat("welsh-client", 1_700_000_002))
	waitUntil(t, 10*time.Second, "the four good nodes converge", func() bool { return converged(h.Nodes, 1) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", strings.Join(logs.lines(""), "\n"))
		}
	})
	waitUntil(t, 10*time.Second, "refusals logged at both ends", func() bool {
		return len(logs.lines("Welsh", "link handshake failed")) > 0 && len(logs.lines("Alford", "inbound link refused", "authentication failed")) > 0 &&
			len(logs.lines("Welsh", "inbound link refused", "authentication failed")) > 0 && len(logs.lines("Ball", "link handshake failed")) > 0
	})
	time.Sleep(200 * time.Millisecond)
	if got := view(welsh.Nodes[0].Node.Cache()); len(got) != 1 {
		t.Errorf("Welsh, with the wrong secret, holds %v", got)
	}
	for _, m := range h.Nodes {
		if _, ok := view(m.Node.Cache())["welsh-client"]; ok {
			t.Errorf("%s took an update from Welsh", m.Node.Name())
		}
	}
	for _, s := range welsh.Nodes[0].Links.Stats() {
		if s.State == peer.StateUp {
			t.Errorf("Welsh's link to %s is up", s.Peer)
		}
	}
}

// TestHandOffKeepsPipelinedBytes: on a node without a secret or peer port,
// a neighbour that sends its updates right behind its PEER line (in the
// same read) loses none of them when the engine hands the connection to
// the peer links; the same holds for the goroutine baseline (bench/baseline).
func TestHandOffKeepsPipelinedBytes(t *testing.T) {
	var logs logBuf
	h := start(t, ring(t, zeros(5), nil, "peers: {backoff_min: 10ms, backoff_max: 200ms}\n"), []string{"Alford"}, &logs)
	c := testclient.Dial(t, h.Nodes[0].Addr())
	c.Send("IAMAT before +1.0+1.0 1.0\nPEER Welsh\nAT Welsh +0.1 pipelined +1.0+1.0 5.0\nAT Hamilton +0.2 second +1.0+1.0 6.0\n")
	if got := c.Line(); !strings.HasPrefix(got, "AT Alford ") {
		t.Fatalf("IAMAT before the handshake answered %q", got)
	}
	if got := c.Line(); got != "PEER Alford\n" {
		t.Fatalf("handshake answered %q", got)
	}
	waitUntil(t, 5*time.Second, "the pipelined updates", func() bool {
		n := h.Nodes[0].Node
		return n.Lookup([]byte("pipelined")) != nil && n.Lookup([]byte("second")) != nil
	})
	// Not a neighbour: refused by the peer links, which close the connection.
	c2 := testclient.Dial(t, h.Nodes[0].Addr())
	if got := c2.Ask("PEER Ball"); got != "? PEER Ball\n" {
		t.Errorf("PEER from a non-neighbour answered %q", got)
	}
}
