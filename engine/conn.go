package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/logq"
)

// connState is the per-connection state. It is owned by the connection's
// event loop: only OnOpen, OnTraffic and OnClose touch it, except the
// atomic fields, which the ticker reads (and kick, which it sets).
type connState struct {
	id    uint64
	hc    herd.Session // this connection's session state
	stats *loopStats   // the counters of the connection's event loop (stats.go)
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

	opened int64 // coarse clock at accept; set before the ticker sees st

	// What the ticker watches: written by the loop once per read, never
	// per line.
	lastLine     atomic.Int64  // coarse clock at the last complete line (or accept)
	partialSince atomic.Int64  // since when a partial line waits; 0: none
	owed         atomic.Int64  // output bytes gnet holds for the client, as of the loop's last look
	probation    atomic.Bool   // accepted over max_conns: must show a PEER handshake at once
	drain        atomic.Bool   // closing gracefully: no more lines read, what is owed goes out first
	kick         atomic.Uint32 // set by the ticker: close for this reason

	// Loop only.
	counted    bool  // counts against max_conns
	peerSlot   bool  // holds one of the peerSlots
	closed     bool  // OnClose ran
	queued     int64 // bytes ever handed to gnet's Write
	sentMark   int64 // bytes sent when output last made progress
	stallSince int64 // when output last made progress (coarse clock)
	wrShut     int64 // drain: when the write side was shut down; 0: not yet
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

// OnOpen admits a connection, or refuses it (closed at once, counted) when
// the node is draining or has max_conns clients. A connection over the cap
// is let in on probation, into one of a few peer slots, when it may be a
// neighbour's link: its first line must be a PEER handshake, within a
// second. Event loop only.
func (s *Server) onOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		s.closed.refused.Add(1)
		return nil, gnet.Close
	}
	now := s.clock.Load()
	st := &connState{id: s.nextConn.Add(1), opened: now, stats: s.stats.of(c)}
	st.stats.opened.Add(1)
	st.lastLine.Store(now)
	if s.clients.Add(1) <= int64(s.maxConns) {
		st.counted = true
	} else {
		s.clients.Add(-1)
		if !mayBePeer(c.Fd()) || !s.takePeerSlot() {
			s.closed.refused.Add(1)
			st.stats.closed.Add(1) // OnClose finds no state to count it by
			return nil, gnet.Close
		}
		st.peerSlot = true
		st.probation.Store(true)
	}
	c.SetContext(st)
	s.open.Add(1)
	s.conns.add(st, c)
	s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "client connected", Conn: st.id, Remote: c.RemoteAddr().String()})
	return nil, gnet.None
}

// mayBePeer peeks at what a connection sent so far: a neighbour's link
// starts with "PEER ". Nothing yet may still become one.
func mayBePeer(fd int) bool {
	var b [5]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil || n <= 0 {
		return err == unix.EAGAIN
	}
	return bytes.HasPrefix([]byte("PEER "), b[:n])
}

func (s *Server) takePeerSlot() bool {
	if s.peerSlots.Add(1) > peerSlots {
		s.peerSlots.Add(-1)
		return false
	}
	return true
}

// OnTraffic answers every complete line in the connection's buffer and
// writes the replies with one write. It also runs when a WHATSAT reply is
// ready, or when the ticker or a drain wakes the connection (Wake), to send
// the replies that were waiting and act on timeouts. Event loop only.
func (s *Server) onTraffic(c gnet.Conn) gnet.Action {
	st, ok := c.Context().(*connState)
	if !ok {
		return gnet.Close
	}
	if why := st.kick.Load(); why != 0 {
		return s.kicked(st, why)
	}
	if s.draining.Load() || st.drain.Load() {
		return s.drainConn(c, st)
	}
	lim := s.limits() // read once per callback: a reload applies from the next one
	bp := scratch.Get().(*[]byte)
	out, action := s.serve(c, st, (*bp)[:0], lim.MaxPending)
	s.write(c, st, out)
	*bp = out
	scratch.Put(bp)
	switch {
	case action != gnet.None || st.closed:
		return action
	case st.drain.Load(): // an over-long line, or close-after-reply
		return s.drainConn(c, st)
	case s.writeStalled(c, st):
		return resetClose(c)
	case c.OutboundBuffered() > lim.MaxOutbound:
		// No more lines from a client that reads slower than it asks: it
		// gets what it is owed (within write_timeout), then is closed.
		s.closed.maxOutbound.Add(1)
		s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "closing a client that does not read its replies", Conn: st.id})
		st.drain.Store(true)
		return s.drainConn(c, st)
	case len(st.pending) >= lim.MaxPending && c.InboundBuffered() > lim.MaxPausedInbound:
		// Reading is paused behind running WHATSATs, and the client keeps
		// sending: gnet would buffer it all. Bound what one client may park.
		s.closed.flood.Add(1)
		s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "closing a client that floods requests behind its WHATSATs", Conn: st.id})
		st.drain.Store(true)
		return s.drainConn(c, st)
	}
	return gnet.None
}

// kicked closes a connection the ticker found past a limit.
func (s *Server) kicked(st *connState, why uint32) gnet.Action {
	msg := ""
	switch why {
	case kickIdle:
		s.closed.idle.Add(1)
		msg = "closing an idle client"
	case kickSlowLine:
		s.closed.slowLine.Add(1)
		msg = "closing a client whose line does not end"
	case kickOutputTotal:
		s.closed.outputTotal.Add(1)
		msg = "closing a client that owes the most output"
	case kickProbation:
		s.closed.refused.Add(1)
		msg = "closing a connection over max_conns"
	}
	s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: msg, Conn: st.id})
	return gnet.Close
}

// write hands out to gnet and records what the connection now owes, for
// write_timeout and max_output_total.
func (s *Server) write(c gnet.Conn, st *connState, out []byte) {
	if len(out) > 0 {
		st.queued += int64(len(out))
		if c.OutboundBuffered() == 0 {
			out = out[writeNow(c.Fd(), out):]
		}
		if len(out) > 0 {
			// What the socket did not take, gnet buffers and sends when
			// it is writable; on an error it closes c (OnClose runs inside).
			_, _ = c.Write(out)
		}
	}
	if !st.closed {
		s.setOwed(st, int64(c.OutboundBuffered()))
	}
}

func (s *Server) setOwed(st *connState, n int64) {
	if d := n - st.owed.Load(); d != 0 {
		st.owed.Store(n)
		s.owed.Add(d)
	}
}

// writeStalled reports whether the connection's output made no progress
// for write_timeout. Loop only.
func (s *Server) writeStalled(c gnet.Conn, st *connState) bool {
	return s.stalled(st, st.owed.Load())
}

// stalled reports whether owed, what the connection still owes, made no
// progress for write_timeout. Loop only.
func (s *Server) stalled(st *connState, owed int64) bool {
	now := s.clock.Load()
	if sent := st.queued - owed; owed == 0 || sent != st.sentMark {
		st.sentMark, st.stallSince = sent, now
		return false
	}
	if now-st.stallSince <= int64(s.timeouts.write) {
		return false
	}
	s.closed.writeTimeout.Add(1)
	s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "closing a client whose output makes no progress", Conn: st.id})
	return true
}

// resetClose closes c with a reset, dropping what gnet and the kernel hold
// for the client: a close for write_timeout must not end in a FIN after a
// torn line, which the client would take for a clean end. Event loop only.
func resetClose(c gnet.Conn) gnet.Action {
	if ob := outboundOf(c); ob != nil {
		_, _ = ob.Discard(ob.Buffered()) // gnet's close would write some of it
	}
	_ = c.SetLinger(0)
	return gnet.Close
}

// serve sends the replies that became ready and answers the complete lines
// in c's buffer, as long as fewer than maxPending replies wait. It goes on
// while replies at the head of the queue are ready (an overloaded WHATSAT
// is answered at once), so nothing ready waits for another event. After an
// over-long line, or the one line of close-after-reply, it marks the
// connection to drain: what it is owed goes out, then it is closed.
func (s *Server) serve(c gnet.Conn, st *connState, out []byte, maxPending int) ([]byte, gnet.Action) {
	lim := s.limits()
	buf, _ := c.Peek(-1)
	used, lines, needMore, warmed := 0, 0, false, 0
	if len(buf) > 0 {
		st.hc.Received = s.node.Clock() // one clock read per read from the socket
	}
	action := gnet.None
	for {
		out = st.flushReady(out)
		for action == gnet.None && !st.drain.Load() && len(st.pending) < maxPending {
			if used >= warmed {
				// Touch the cache memory of the next lines' lookups together
				// (herd.Node.Warm): a pipelined read over many clients
				// otherwise waits on memory for each line in turn.
				warmed = used + s.node.Cache().Warm(buf[used:])
			}
			line, n, err := codec.NextLine(buf[used:], lim.MaxLine)
			if err == codec.ErrNeedMore {
				needMore = len(buf) > used
				break
			}
			if err == codec.ErrLineTooLong {
				// docs/PROTOCOL.md, Limits and refusals: "? " and the first
				// limit's worth of bytes, then close.
				head := buf[used:]
				head = head[:min(len(head), lim.MaxLine)]
				out = st.queue(out, codec.AppendInvalid(nil, head))
				s.closed.lineTooLong.Add(1)
				s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "line too long, closing", Conn: st.id})
				used = len(buf)
				st.drain.Store(true)
				break
			}
			used += n
			lines++
			if st.probation.Load() && !bytes.HasPrefix(line, []byte("PEER ")) {
				// Over max_conns and not a neighbour after all.
				s.closed.refused.Add(1)
				used = len(buf)
				action = gnet.Close
				break
			}
			out = s.handle(c, st, line, out)
			if st.hello != nil {
				action = s.handOff(c, st, buf[used:])
				used = len(buf)
				break
			}
			if lim.CloseAfterReply {
				// One request per connection: close once its reply is out (a
				// WHATSAT's once it arrives).
				st.drain.Store(true)
				break
			}
		}
		if action != gnet.None || len(st.pending) == 0 || !st.pending[0].ready() {
			break
		}
	}
	if used > 0 { // gnet's Discard(0) discards everything
		_, _ = c.Discard(used)
	}
	// What the ticker needs, stored once per read.
	now := s.clock.Load()
	if lines > 0 {
		st.lastLine.Store(now)
	}
	switch partial := needMore && action == gnet.None && !st.drain.Load(); {
	case !partial:
		st.partialSince.Store(0)
	case lines > 0 || st.partialSince.Load() == 0:
		st.partialSince.Store(now)
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
	if st.hc.Reason != nil {
		s.log.Rejected(st.id, "", st.hc.Reason, line)
	}
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
// without a newline count as a last line, and what the client is still
// owed goes out as halfclose.go describes. Event loop only.
func (s *Server) onClose(c gnet.Conn, err error) gnet.Action {
	st, ok := c.Context().(*connState)
	if !ok {
		return gnet.None
	}
	c.SetContext(nil)
	handedOver := errors.Is(err, io.EOF) && s.finishHalfClosed(c, st)
	if !handedOver && (len(st.pending) > 0 || c.OutboundBuffered() > 0) {
		// Closed while still owed (write_timeout, or a Stop whose time ran
		// out): gnet writes what the socket takes and drops the rest, so
		// the kernel may end mid-line. A reset, not a FIN, so the client
		// does not take a torn reply for a clean end.
		resetOnClose(c.Fd())
	}
	st.closed = true
	st.stats.closed.Add(1)
	st.done()
	s.conns.remove(st)
	if st.owed.Load() >= bigDebt {
		s.freeOSMemory.Store(true) // its buffers are garbage now
	}
	s.setOwed(st, 0)
	if st.counted && !handedOver { // else its delivery gives the place back
		s.clients.Add(-1)
	}
	if st.peerSlot {
		s.peerSlots.Add(-1)
	}
	if s.open.Add(-1) == 0 && s.draining.Load() {
		s.drainedOnce.Do(func() { close(s.drained) })
	}
	msg := "client disconnected"
	switch {
	case st.hello != nil:
		msg = "connection handed to the peer links"
	case handedOver:
		msg = "half-closed client: delivering what it is owed"
	}
	ev := logq.Event{Level: slog.LevelDebug, Msg: msg, Conn: st.id}
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
