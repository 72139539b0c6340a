package peer

import (
	"context"
	"net"
	"time"
)

// Dialer opens the connection of an outbound link to addr, a neighbour's
// host:port as configured (resolved again on every call). It returns when
// ctx ends. A node dials TCP (TCPDialer); tests and the simulator
// (peer/peersim) dial an in-memory network, whose listener the other node
// serves with Links.Serve.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// TCPDialer dials TCP, each attempt bounded by timeout.
func TCPDialer(timeout time.Duration) Dialer {
	d := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
}
