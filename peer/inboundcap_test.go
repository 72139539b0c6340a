package peer_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/peer"
)

// TestInboundLinksAreBounded: a client that opens many connections on the
// client port, each claiming to be a neighbour ("PEER Hamilton" in an open
// herd), cannot escape max_conns through the peer links: past
// peer.MaxInbound inbound links the node answers "? " and closes, and it
// keeps serving clients.
func TestInboundLinksAreBounded(t *testing.T) {
	t.Parallel()
	cfg := ring(t, zeros(5), nil, "")
	h := start(t, cfg, []string{"Alford"}, &logBuf{})
	addr := h.Node("Alford").Addr()
	const dials = 3 * peer.MaxInbound
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	linked, refused := 0, 0
	for range dials {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("PEER Hamilton\n")); err != nil {
			t.Fatal(err)
		}
		l, err := bufio.NewReader(c).ReadString('\n')
		switch {
		case l == "PEER Alford\n":
			linked++
		case strings.HasPrefix(l, "? "):
			refused++
		default:
			t.Fatalf("answer %q, %v", l, err)
		}
	}
	if linked > peer.MaxInbound || refused == 0 {
		t.Fatalf("%d inbound links accepted, %d refused; want at most %d", linked, refused, peer.MaxInbound)
	}
	// Clients are still served.
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("IAMAT kiwi +1.0+1.0 1\n"))
	if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(l, "AT Alford ") {
		t.Fatalf("client after the flood: %q, %v", l, err)
	}
}
