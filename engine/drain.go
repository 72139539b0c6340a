package engine

import (
	"context"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// A graceful drain (Stop) runs in three steps per connection, on its loop:
//
//  1. No new line is read: input that arrives is discarded, so that closing
//     never meets unread input (which makes the kernel reset the
//     connection and throw away what is still queued for the client).
//  2. Every reply owed is delivered: the replies of lines already
//     answered, and those of WHATSATs still running, in order; a reply is
//     always handed to gnet whole, so no line is ever torn.
//  3. Once nothing is owed and gnet's buffer is empty, the write side is
//     shut down (the client reads EOF after the last reply). Once the
//     kernel's send queue is empty too (the client has it all), the node
//     waits up to lingerGrace for the client to close its side before it
//     closes the connection itself. (Closing earlier would risk a reset,
//     which throws away what the kernel still holds for the client.)
//
// The ticker wakes every connection on each tick while draining, so the
// steps advance without traffic. New connections are closed at once.
//
// A single connection drains the same way when it must go but is owed
// replies: after an over-long line, the reply of close-after-reply, or when
// it reads slower than it asks (max_outbound, max_paused_inbound). Output
// that makes no progress for write_timeout (counting what the kernel still
// holds) ends a drain with a reset (resetClose), and so does a Stop whose
// time runs out while gnet still holds output for a connection (OnClose):
// the client never takes a torn last line for a clean end.

// drainConn advances one connection's drain. Event loop only.
func (s *Server) drainConn(c gnet.Conn, st *connState) gnet.Action {
	if st.probation.Load() {
		return gnet.Close // over max_conns, owed nothing
	}
	_, _ = c.Discard(-1)
	bp := scratch.Get().(*[]byte)
	out := st.flushReady((*bp)[:0])
	s.write(c, st, out)
	*bp = out
	scratch.Put(bp)
	if st.closed {
		return gnet.None
	}
	gnetOwed := int64(c.OutboundBuffered())
	inKernel := sendQueued(c.Fd())
	if s.stalled(st, gnetOwed+inKernel) {
		return resetClose(c)
	}
	if len(st.pending) > 0 || gnetOwed > 0 {
		return gnet.None
	}
	now := time.Now().UnixNano()
	if st.wrShut == 0 {
		st.wrShut = now
		if err := unix.Shutdown(c.Fd(), unix.SHUT_WR); err != nil {
			return gnet.Close
		}
		return gnet.None
	}
	if inKernel > 0 {
		st.wrShut = now // the linger starts once the client has it all
		return gnet.None
	}
	if now-st.wrShut < int64(lingerGrace) {
		return gnet.None
	}
	// The client did not close its side: read what it sent meanwhile, so
	// that the close is a FIN, not a reset.
	var b [4096]byte
	for range 16 {
		if n, err := unix.Read(c.Fd(), b[:]); n <= 0 || err != nil {
			break
		}
	}
	return gnet.Close
}

// drain stops reading, delivers what every connection is owed, and closes
// each one gracefully; it returns once every connection is closed or ctx
// ends. Any goroutine.
func (s *Server) drain(ctx context.Context) {
	s.draining.Store(true)
	if s.open.Load() == 0 {
		s.drainedOnce.Do(func() { close(s.drained) })
	}
	s.conns.each(func(_ *connState, c gnet.Conn) { _ = c.Wake(nil) })
	select {
	case <-s.drained:
	case <-ctx.Done():
	case <-s.done: // the reactor stopped: nothing left to drain
	}
}
