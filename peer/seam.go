package peer

import (
	"context"
	"net"
)

// Dialer opens the connection of an outbound link to addr, a neighbour's
// host:port as configured (resolved again on every call). It returns when
// ctx ends. A node dials TCP (TCPDialer); tests and the simulator
// (peer/peersim) dial an in-memory network, whose listener the other node
// serves with Links.Serve.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// TCPDialer dials TCP as s says: each attempt bounded by s.DialTimeout,
// the socket with TCP keepalive and TCP_USER_TIMEOUT from s.Heartbeat and
// s.Timeout (liveness.go). Unset settings take their defaults.
func TCPDialer(s Settings) Dialer {
	s = s.WithDefaults()
	d := &net.Dialer{Timeout: s.DialTimeout, KeepAliveConfig: keepAlive(s.Heartbeat, s.Timeout), Control: userTimeout(s.Timeout)}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
}
