package peer

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Liveness (PROTOCOL.md, "Between nodes"). Each side of a link writes
//
//	PING
//
// whenever it has written nothing else for peers.heartbeat, and a side that
// has heard a PING declares the link down when it then hears nothing at all
// for peers.timeout: a neighbour that vanished without a FIN or RST (a
// partition, a blackhole, a host that froze) is noticed within
// peers.timeout, not after TCP's retransmission backoff. A node that does
// not know PING ignores it (both sides skip lines they do not expect) and,
// sending none, is never timed out: the timeout is armed by the first PING
// heard. TCP keepalive and TCP_USER_TIMEOUT on the socket, set to the same
// timeout, are a second line for a neighbour that does not ping.

// pingLine is the heartbeat.
const pingLine = "PING"

// liveReader reads from a connection with, once armed (the other side
// proved it pings), a deadline of timeout on every read: silence that long
// fails the read with os.ErrDeadlineExceeded.
type liveReader struct {
	c       net.Conn
	timeout time.Duration
	armed   atomic.Bool
}

func (r *liveReader) Read(p []byte) (int, error) {
	if r.armed.Load() {
		_ = r.c.SetReadDeadline(timeNow().Add(r.timeout))
	}
	return r.c.Read(p)
}

// silent reports whether err is a read that timed out: the neighbour said
// nothing for peers.timeout. (A write that timed out is a neighbour that
// stopped reading.)
func silent(err error) bool {
	var op *net.OpError
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &op) && op.Op == "read"
}

// keepAlive is the TCP keepalive of a peer socket: probes after heartbeat
// of silence, every heartbeat, until timeout.
func keepAlive(heartbeat, timeout time.Duration) net.KeepAliveConfig {
	return net.KeepAliveConfig{Enable: true, Idle: heartbeat, Interval: heartbeat, Count: max(1, int(timeout/heartbeat))}
}

// tuneSocket sets keepalive and the user timeout on an accepted peer
// socket (a connection that is no *net.TCPConn is left alone).
func tuneSocket(c net.Conn, heartbeat, timeout time.Duration) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tc.SetKeepAliveConfig(keepAlive(heartbeat, timeout))
	if rc, err := tc.SyscallConn(); err == nil {
		_ = userTimeout(timeout)("", "", rc)
	}
}

// userTimeout returns a dialer Control that sets TCP_USER_TIMEOUT (where
// the system has it): unacknowledged data older than timeout breaks the
// connection.
func userTimeout(timeout time.Duration) func(network, address string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { setUserTimeout(fd, timeout) })
	}
}
