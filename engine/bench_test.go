package engine_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
)

// BenchmarkIAMATLoopback is one client pipelining IAMATs to a node over
// loopback at depth 1 and 16; an op is one IAMAT and its reply. The IAMATs
// are older than what the node holds, so it answers with the stored lines
// (the allocation-free path).
func BenchmarkIAMATLoopback(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", depth), func(b *testing.B) {
			h := startTestHerd(b, testConfig(b), "Ball")
			c := testclient.Dial(b, h.Nodes[0].Addr())
			var store, req strings.Builder
			for i := range depth {
				fmt.Fprintf(&store, "IAMAT client%d +34.068930-118.445127 1479413884.%d\n", i, i)
				fmt.Fprintf(&req, "IAMAT client%d +34.068930-118.445127 1479413883.%d\n", i, i) // older
			}
			batch := []byte(req.String())
			c.Send(store.String())
			n := 0
			for range depth {
				n += len(c.Line())
			}
			reply := make([]byte, n)
			b.SetBytes(int64(len(batch) / depth))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				_ = c.Conn.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Conn.Write(batch); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c.R, reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWhatsatLoopback is WHATSAT end to end on loopback with the
// offline index: UCLA, 10 km, bound 5.
func BenchmarkWhatsatLoopback(b *testing.B) {
	s := startPlacesNode(b, offline(b), 5*time.Second)
	c := testclient.Dial(b, s.Addr())
	c.Ask("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = c.Conn.SetDeadline(time.Now().Add(10 * time.Second))
		c.Send("WHATSAT kiwi.cs.ucla.edu 10 5\n")
		readWhatsat(c)
	}
}
