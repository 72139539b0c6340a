package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/panjf2000/gnet/v2"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/logq"
)

// connState is the per-connection state. It is owned by the connection's
// event loop: only OnOpen, OnTraffic and OnClose touch it.
type connState struct {
	id    uint64
	hc    herd.Conn  // this connection's session state
	stats *loopStats // the counters of the connection's event loop
	// hello is a neighbour's PEER handshake line: the connection goes to
	// the peer links once the replies before it are out.
	hello []byte
	// pending holds replies that must wait for an earlier, still running
	// WHATSAT. Empty in the common case: replies go straight out.
	pending []*reply
	cmd     codec.Command
	// ctx is cancelled when the connection goes away, so WHATSATs it
	// started stop costing anything; made at its first WHATSAT.
	ctx    context.Context
	cancel context.CancelFunc
}

// done cancels the connection's running WHATSATs.
func (st *connState) done() {
	if st.cancel != nil {
		st.cancel()
	}
}

// reply is a reply that may not be ready yet. done is closed once buf holds
// the whole reply; the goroutine that fills buf closes done, and only then
// may the loop read buf.
type reply struct {
	buf  []byte
	done chan struct{}
}

// readyCh is the done channel of replies that are ready when queued.
var readyCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (r *reply) ready() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// scratch buffers replies for one OnTraffic call; gnet copies whatever the
// socket does not take at once, so the buffer returns to the pool at once.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// OnOpen sets up a connection's state. Event loop only.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	st := &connState{id: s.nextConn.Add(1), stats: s.stats.of(c)}
	st.stats.opened.Add(1)
	c.SetContext(st)
	s.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "client connected", Conn: st.id, Remote: c.RemoteAddr().String()})
	return nil, gnet.None
}

// OnTraffic answers every complete line in the connection's buffer and
// writes the replies with one write. It also runs when a WHATSAT reply is
// ready (Wake), to send the replies that were waiting for it. Event loop only.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	st, ok := c.Context().(*connState)
	if !ok {
		return gnet.Close
	}
	lim := s.limits()
	bp := scratch.Get().(*[]byte)
	out, action := s.serve(c, st, (*bp)[:0], lim.MaxPending)
	if len(out) > 0 {
		_, _ = c.Write(out)
	}
	*bp = out
	scratch.Put(bp)
	if action == gnet.None && c.OutboundBuffered() > lim.MaxOutbound {
		s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "closing a client that does not read its replies", Conn: st.id})
		return gnet.Close
	}
	if action == gnet.None && len(st.pending) >= lim.MaxPending && c.InboundBuffered() > lim.MaxPausedInbound {
		// Reading is paused behind running WHATSATs, and the client keeps
		// sending: gnet would buffer it all. Bound what one client may park.
		s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "closing a client that floods requests behind its WHATSATs", Conn: st.id})
		return gnet.Close
	}
	return action
}

// serve sends the replies that became ready and answers the complete lines
// in c's buffer, as long as fewer than maxPending replies wait.
func (s *Server) serve(c gnet.Conn, st *connState, out []byte, maxPending int) ([]byte, gnet.Action) {
	lim := s.limits()
	out = st.flushReady(out)
	action := gnet.None
	if lim.CloseAfterReply && len(out) > 0 && len(st.pending) == 0 {
		return out, gnet.Close
	}
	buf, _ := c.Peek(-1)
	used := 0
	if len(buf) > 0 {
		st.hc.Received = s.node.Clock() // one clock read per read from the socket
	}
	for action == gnet.None && len(st.pending) < maxPending {
		line, n, err := codec.NextLine(buf[used:], lim.MaxLine)
		if err == codec.ErrNeedMore {
			break
		}
		if err == codec.ErrLineTooLong {
			// PROTOCOL.md: "? " and the first limit's worth of bytes, then close.
			head := buf[used:]
			head = head[:min(len(head), lim.MaxLine)]
			out = st.queue(out, codec.AppendInvalid(nil, head))
			s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "line too long, closing", Conn: st.id})
			used = len(buf)
			action = gnet.Close
			break
		}
		used += n
		out = s.handle(c, st, line, out)
		if st.hello != nil {
			action = s.handOff(c, st, buf[used:])
			used = len(buf)
			break
		}
		if lim.CloseAfterReply {
			// One request per connection: close once its reply is out (a
			// WHATSAT's reply closes it when it arrives, in flushReady's turn).
			if len(st.pending) == 0 {
				action = gnet.Close
			}
			break
		}
	}
	if used > 0 { // gnet's Discard(0) discards everything
		_, _ = c.Discard(used)
	}
	return out, action
}

// queue appends a finished reply to out, or to the pending queue when an
// earlier reply is still being computed.
func (st *connState) queue(out, r []byte) []byte {
	if len(st.pending) == 0 {
		return append(out, r...)
	}
	st.pending = append(st.pending, &reply{buf: r, done: readyCh})
	return out
}

// flushReady moves the finished replies at the head of the queue to out.
func (st *connState) flushReady(out []byte) []byte {
	i := 0
	for ; i < len(st.pending) && st.pending[i].ready(); i++ {
		out = append(out, st.pending[i].buf...)
		st.pending[i] = nil
	}
	if i > 0 {
		st.pending = st.pending[:copy(st.pending, st.pending[i:])]
	}
	return out
}

// handle answers one line, appending the reply (if any) to out, or queueing
// it behind a WHATSAT that is still running.
func (s *Server) handle(c gnet.Conn, st *connState, line, out []byte) []byte {
	s.log.Line("recv", st.id, "", line)
	p := len(out)
	out, outcome, e := s.node.Serve(out, line, &st.cmd, &st.hc)
	st.stats.countLine(st.cmd.Kind, out[p:])
	if outcome == herd.HandOff {
		if s.cfg.HandOff == nil {
			return st.queue(out, codec.AppendInvalid(nil, line))
		}
		st.hello = append(append([]byte(nil), line...), '\n')
		return out
	}
	if outcome == herd.NeedsPlaces {
		s.startWhatsat(c, st, e, &st.cmd)
		return out
	}
	if len(out) == p {
		return out
	}
	s.log.Line("send", st.id, "", out[p:])
	if len(st.pending) > 0 {
		st.pending = append(st.pending, &reply{buf: append([]byte(nil), out[p:]...), done: readyCh})
		return out[:p]
	}
	return out
}

// OnClose finishes a connection. When the client half-closed, bytes left
// without a newline count as a last line, and replies still waiting on the
// places backend are handed to a goroutine that writes them in order on a
// duplicate of the socket. Event loop only.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	st, ok := c.Context().(*connState)
	if !ok {
		return gnet.None
	}
	c.SetContext(nil)
	if errors.Is(err, io.EOF) {
		s.finishHalfClosed(c, st)
	}
	st.stats.closed.Add(1)
	st.done()
	msg := "client disconnected"
	if st.hello != nil {
		msg = "connection handed to the peer links"
	}
	ev := logq.Event{Level: slog.LevelInfo, Msg: msg, Conn: st.id}
	if err != nil && !errors.Is(err, io.EOF) {
		ev.Err = err
	}
	s.log.Send(ev)
	return gnet.None
}

// handOff gives the connection, from its handshake line on (rest is what
// followed it in the buffer), to the peer links on a duplicate of its
// socket, and closes it here. Replies already in out are written first by
// the caller; a neighbour waits for the answer to its handshake before it
// sends more, so no byte is left behind. Event loop only.
func (s *Server) handOff(c gnet.Conn, st *connState, rest []byte) gnet.Action {
	st.done() // WHATSATs of a connection that turned into a link are moot
	st.pending = nil
	fd, err := c.Dup()
	if err != nil {
		s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "cannot hand a connection to the peer links", Conn: st.id, Err: err})
		return gnet.Close
	}
	f := os.NewFile(uintptr(fd), "peer link")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "cannot hand a connection to the peer links", Conn: st.id, Err: err})
		return gnet.Close
	}
	s.cfg.HandOff(nc, append(st.hello, rest...))
	return gnet.Close
}

func (s *Server) finishHalfClosed(c gnet.Conn, st *connState) {
	lim := s.limits()
	bp := scratch.Get().(*[]byte)
	out, _ := s.serve(c, st, (*bp)[:0], int(^uint(0)>>1))
	answered := len(out) > 0 || len(st.pending) > 0
	if buf, _ := c.Peek(-1); len(buf) > 0 && !(lim.CloseAfterReply && answered) {
		if line, err := codec.LastLine(buf, lim.MaxLine); err == nil {
			out = s.handle(c, st, line, out)
		} else if err == codec.ErrLineTooLong {
			out = st.queue(out, codec.AppendInvalid(nil, buf[:min(len(buf), lim.MaxLine)]))
		}
		_, _ = c.Discard(len(buf))
	}
	if len(out) > 0 {
		_, _ = c.Write(out)
	}
	*bp = out
	scratch.Put(bp)
	if len(st.pending) > 0 {
		cancel := st.cancel
		st.cancel = nil // the drainer owns it now
		s.drainLater(c, st.pending, cancel)
		st.pending = nil
	}
}
