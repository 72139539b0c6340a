package peer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/peer"
)

// TestRemovedNeighbourCutOff: a reload that removes Welsh from Alford's
// neighbours, while Welsh still counts Alford as one, closes both
// directions of the link at once: Welsh's updates are no longer stored at
// Alford, Alford lists no inbound link from Welsh, Welsh's redials are
// refused and counted, and the refusals are summarised in the log, not
// logged per attempt.
func TestRemovedNeighbourCutOff(t *testing.T) {
	logs := &logBuf{}
	cfg := ring(t, zeros(5), nil, "peers: {backoff_min: 10ms, backoff_max: 40ms}\n")
	h := start(t, cfg, []string{"Alford", "Welsh"}, logs)
	alford, welsh := h.Node("Alford"), h.Node("Welsh")
	inboundFrom := func(name string) bool {
		for _, in := range alford.Links.Inbound() {
			if in.Peer == name {
				return true
			}
		}
		return false
	}
	waitUntil(t, 5*time.Second, "Welsh linked in to Alford", func() bool { return inboundFrom("Welsh") })
	for _, in := range alford.Links.Inbound() {
		if in.Remote == "" || in.Since.IsZero() {
			t.Errorf("inbound link %+v", in)
		}
	}
	// A report at Welsh reaches Alford over Welsh's link.
	testclient.Dial(t, welsh.Addr()).Ask(iamat("before", 1))
	waitUntil(t, 5*time.Second, "Alford to hold before", func() bool { return alford.Node.Lookup([]byte("before")) != nil })

	added, removed := alford.Links.Update([]peer.Neighbor{{Name: "Hamilton", Address: "127.0.0.1:0"}}) // as started: Hamilton does not run
	if len(added) != 0 || len(removed) != 1 || removed[0] != "Welsh" {
		t.Fatalf("Update: added %v removed %v", added, removed)
	}
	if inboundFrom("Welsh") {
		t.Error("Alford still lists an inbound link from Welsh right after the reload")
	}
	waitUntil(t, 5*time.Second, "Welsh's redials refused", func() bool { return alford.Links.Refused()[peer.RefusedNotNeighbor] >= 3 })
	// Welsh still counts Alford as its neighbour: what it learns must not
	// be stored at Alford any more.
	testclient.Dial(t, welsh.Addr()).Ask(iamat("after", 2))
	time.Sleep(300 * time.Millisecond)
	if e := alford.Node.Lookup([]byte("after")); e != nil {
		t.Errorf("Alford stored %q from a neighbour it removed", e.Line)
	}
	for _, l := range welsh.Links.Stats() {
		if l.Peer == "Alford" && l.State == peer.StateUp {
			t.Errorf("Welsh's link to Alford is up after Alford removed Welsh")
		}
	}
	// Several refusals, at most one log line for them so far.
	if n := alford.Links.Refused()[peer.RefusedNotNeighbor]; n < 3 {
		t.Errorf("refusals counted: %d", n)
	}
	if got := logs.lines("Alford", "is not a neighbour"); len(got) > 1 {
		t.Errorf("%d log lines for refusals of a removed neighbour, want at most 1:\n%s", len(got), strings.Join(got, "\n"))
	}
	if got := logs.lines("Welsh", "link handshake failed"); len(got) > 1 {
		t.Errorf("%d log lines at Welsh for one run of refused handshakes, want 1:\n%s", len(got), strings.Join(got, "\n"))
	}
}
