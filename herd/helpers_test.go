package herd_test

import (
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/places"
)

// The example of docs/PROTOCOL.md (The AT line). The receive time gives exactly its skew,
// +0.263873386 (656263836 would give +0.264249386).
const (
	kiwiIAMAT = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"
	kiwiAT    = "AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"
)

var kiwiReceived = codec.Stamp{Sec: 1479413884, Nsec: 655887836}

func fixedClock(s codec.Stamp) func() codec.Stamp { return func() codec.Stamp { return s } }

// parse parses line, failing the test if it is not valid.
func parse(tb testing.TB, line string) *codec.Command {
	tb.Helper()
	var cmd codec.Command
	if err := codec.Parse([]byte(line), &cmd); err != nil {
		tb.Fatalf("parse %q: %v", line, err)
	}
	return &cmd
}

// offerAT offers an AT line to c as a node would, returning Offer's results.
func offerAT(tb testing.TB, c *herd.Cache, line string) (*herd.Entry, bool) {
	tb.Helper()
	cmd := parse(tb, line)
	if cmd.Kind != codec.KindAT {
		tb.Fatalf("%q is not an AT line", line)
	}
	return c.Offer(cmd.ClientID, cmd.Stamp, []byte(line))
}

type countFlooder struct{ n int }

func (f *countFlooder) Flood([]byte, string) { f.n++ }

// withPlaces returns a node with n's name and cache answering WHATSAT
// through p.
func withPlaces(n *herd.Node, p places.Provider, timeout time.Duration, maxInFlight int) *herd.Node {
	return herd.NewNode(herd.NodeOptions{Name: n.Name(), Cache: n.Cache(), Places: p, PlacesTimeout: timeout, MaxInFlight: maxInFlight})
}
