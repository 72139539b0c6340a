package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/buffer/elastic"
	"golang.org/x/sys/unix"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/internal/logq"
)

// A client that half-closes (shutdown(SHUT_WR), or a FIN after its last
// request) is still owed every reply: those of the lines it sent, the last
// one without a newline included, and those of WHATSATs still running.
//
// gnet closes a connection as soon as a read meets EOF: it writes what it
// buffers for the client until the socket is full, then closes the socket
// and drops the rest, often in the middle of a line. So on EOF the engine
// takes the connection over before gnet's close runs: it moves what gnet
// buffers for the client out of gnet's outbound buffer (leaving gnet nothing
// to write), and a goroutine writes that, then the replies answered at EOF,
// then those of WHATSATs as they finish, on a duplicate of the socket, as
// slowly as the client reads. It closes the socket once the kernel holds
// nothing more for the client, so the client reads every reply, then EOF.
//
// Until it ends, the connection keeps its max_conns place, and the bytes
// not yet written count toward max_output_total: when that is passed the
// ticker cuts the deliveries owing the most, like any client's output
// (closed_output_total). Output that makes no progress for write_timeout
// (the kernel's queue counted) ends it too (closed_write_timeout), and so
// does a Stop whose context ends first; each is closed with a reset, so a
// client never takes a torn last line for a clean end. A client that was
// already being drained (max_outbound, max_paused_inbound, an over-long
// line) gets what it was owed, no more.
// When the socket takes everything at once, as for any client that read
// its replies, no goroutine is started: the kernel delivers the rest.

// finishHalfClosed answers what a half-closed client sent before its EOF and
// hands whatever gnet could not send at once to a goroutine (deliver). It
// reports whether it did: then the connection keeps its max_conns place
// until the goroutine ends. Event loop only, from OnClose.
func (s *Server) finishHalfClosed(c gnet.Conn, st *connState) bool {
	lim := s.limits()
	bp := scratch.Get().(*[]byte)
	defer func() { scratch.Put(bp) }()
	out := (*bp)[:0]
	if why := st.kick.Load(); why != 0 {
		s.kicked(st, why) // past a limit: closed, as it would have been
		return false
	}
	if s.draining.Load() || st.drain.Load() || st.probation.Load() {
		// Draining: no new lines are read, but what was owed goes out.
		out = st.flushReady(out)
		_, _ = c.Discard(-1)
	} else {
		out, _ = s.serve(c, st, out, int(^uint(0)>>1))
		answered := len(out) > 0 || len(st.pending) > 0
		if buf, _ := c.Peek(-1); len(buf) > 0 && !(lim.CloseAfterReply && answered) {
			if line, err := codec.LastLine(buf, lim.MaxLine); err == nil {
				out = s.handle(c, st, line, out)
			} else if err == codec.ErrLineTooLong {
				out = st.queue(out, codec.AppendInvalid(nil, buf[:min(len(buf), lim.MaxLine)]))
			}
			_, _ = c.Discard(len(buf))
		}
	}
	*bp = out
	ob := outboundOf(c)
	if ob == nil {
		// Not the gnet this was written for: gnet sends what the socket
		// takes and drops the rest.
		_, _ = c.Write(out)
		return false
	}
	if ob.IsEmpty() && len(st.pending) == 0 {
		out = out[writeNow(c.Fd(), out):]
		if len(out) == 0 {
			return false // the kernel has it all
		}
	}
	// Take over: what gnet buffers, then the rest of out, then the
	// pending replies.
	gnetOwed := ob.Buffered()
	head := make([]byte, 0, gnetOwed+len(out))
	if gnetOwed > 0 {
		bs, _ := ob.Peek(-1)
		for _, b := range bs {
			head = append(head, b...)
		}
		_, _ = ob.Discard(gnetOwed)
	}
	head = append(head, out...)
	pending, cancel := st.pending, st.cancel
	st.pending, st.cancel = nil, nil // the goroutine owns them now
	return s.deliverLater(c, st, head, pending, cancel)
}

// deliverLater starts deliver on a duplicate of c's socket. It reports
// whether it did. Event loop only.
func (s *Server) deliverLater(c gnet.Conn, st *connState, head []byte, pending []*reply, cancel context.CancelFunc) bool {
	if cancel == nil {
		cancel = func() {}
	}
	fd, err := c.Dup()
	var nc net.Conn
	if err == nil {
		f := os.NewFile(uintptr(fd), "half-closed client")
		nc, err = net.FileConn(f)
		f.Close()
	}
	if err != nil {
		// No descriptor to spare: gnet sends what the socket takes.
		s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "cannot deliver the replies owed to a half-closed client", Conn: st.id, Err: err})
		_, _ = c.Write(head) // what the socket does not take: reset in OnClose
		cancel()
		return false
	}
	d := &halfClosed{s: s, nc: nc, id: st.id, counted: st.counted, timeout: s.timeouts.write}
	d.owe(int64(len(head)))
	s.halfClosed.add(d)
	s.drainWG.Add(1)
	started := s.goDeliver(func() {
		defer s.drainWG.Done()
		defer cancel() // a write failed or all is sent: calls still running are moot
		d.run(head, pending)
	})
	if !started { // Stop gave up: the replies are moot
		s.halfClosed.remove(d)
		s.drainWG.Done()
		cancel()
		d.owe(-d.owed.Load())
		resetOnClose(c.Fd()) // the kernel may end mid-line: a reset, not a FIN
		nc.Close()
		return false
	}
	return true
}

// resetOnClose makes the socket's close a reset (SO_LINGER 0): for a
// client cut off while owed, whose kernel queue may end mid-line, so that
// it does not take a torn reply for a clean end.
func resetOnClose(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
}

// halfClosed is one half-closed client's delivery, owned by its goroutine.
type halfClosed struct {
	s       *Server
	nc      net.Conn
	id      uint64
	counted bool // holds a max_conns place, given back at the end
	timeout time.Duration
	owed    atomic.Int64 // bytes not yet written, counted in s.owed; the ticker reads it
	cutOff  atomic.Bool  // the ticker closes it to keep max_output_total (cut)
}

func (d *halfClosed) owe(n int64) {
	d.owed.Add(n)
	d.s.owed.Add(n)
}

// cut ends the delivery to keep max_output_total: its writes fail at once
// and it closes with a reset. Any goroutine.
func (d *halfClosed) cut() {
	if d.cutOff.CompareAndSwap(false, true) {
		_ = d.nc.SetWriteDeadline(time.Unix(1, 0))
	}
}

// halfClosedSet is the deliveries running, for the ticker's
// max_output_total.
type halfClosedSet struct {
	mu  sync.Mutex
	set map[*halfClosed]struct{}
}

func (h *halfClosedSet) add(d *halfClosed) {
	h.mu.Lock()
	if h.set == nil {
		h.set = map[*halfClosed]struct{}{}
	}
	h.set[d] = struct{}{}
	h.mu.Unlock()
}

func (h *halfClosedSet) remove(d *halfClosed) {
	h.mu.Lock()
	delete(h.set, d)
	h.mu.Unlock()
}

// owing appends every delivery that owes bytes to o and returns it with
// the sum.
func (h *halfClosedSet) owing(o []owing) ([]owing, int64) {
	var sum int64
	h.mu.Lock()
	for d := range h.set {
		if n := d.owed.Load(); n > 0 && !d.cutOff.Load() {
			o = append(o, owing{d: d, n: n})
			sum += n
		}
	}
	h.mu.Unlock()
	return o, sum
}

// errStalled: the client's output made no progress for write_timeout.
var errStalled = errors.New("engine: output makes no progress")

// run writes head, then each pending reply as it finishes, then waits for
// the kernel to deliver it all, and closes the socket.
func (d *halfClosed) run(head []byte, pending []*reply) {
	s := d.s
	stop := context.AfterFunc(s.ctx, func() { _ = d.nc.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	err := d.write(head)
	for _, r := range pending {
		if err != nil {
			break
		}
		select {
		case <-r.done:
			d.owe(int64(len(r.buf)))
			err = d.write(r.buf)
		case <-s.ctx.Done():
			err = s.ctx.Err()
		}
	}
	if err == nil {
		err = d.settle()
	}
	reset := false
	switch {
	case err == nil:
	case s.ctx.Err() != nil: // Stop ran out of time
		reset = true
	case d.cutOff.Load():
		s.closed.outputTotal.Add(1)
		s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "closing a half-closed client to keep max_output_total", Conn: d.id})
		reset = true
	case errors.Is(err, errStalled) || errors.Is(err, os.ErrDeadlineExceeded):
		s.closed.writeTimeout.Add(1)
		s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "closing a client whose output makes no progress", Conn: d.id})
		reset = true
	default:
		s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "half-closed client went away", Conn: d.id, Err: err})
	}
	if tc, ok := d.nc.(*net.TCPConn); ok && reset {
		// Cut off: a reset, not a FIN, so the client does not take what
		// the kernel still holds (which may end mid-line) for a clean end.
		_ = tc.SetLinger(0)
	}
	d.nc.Close()
	s.halfClosed.remove(d)
	d.owe(-d.owed.Load())
	if d.counted {
		s.clients.Add(-1)
	}
	s.log.Send(logq.Event{Level: slog.LevelDebug, Msg: "client disconnected", Conn: d.id})
}

// write writes b whole, waiting as long as the client reads: each write
// that makes progress moves the deadline write_timeout ahead.
func (d *halfClosed) write(b []byte) error {
	rc, err := d.nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	if err := d.nc.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
		return err
	}
	// cut sets cutOff before its deadline in the past, so a deadline set
	// here either loses to the cut's or is followed by this check: a cut
	// is never overwritten by a fresh deadline (which would leave the
	// delivery waiting for write_timeout on a client that reads nothing).
	if d.cutOff.Load() {
		return errStalled
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			n, err := unix.Write(int(fd), b)
			if n > 0 {
				b = b[n:]
				d.owe(-int64(n))
				if werr = d.s.ctx.Err(); werr != nil {
					return true
				}
				_ = d.nc.SetWriteDeadline(time.Now().Add(d.timeout))
				if d.cutOff.Load() { // after the deadline: see above
					werr = errStalled
					return true
				}
			}
			switch err {
			case nil, unix.EINTR:
			case unix.EAGAIN:
				return false // wait until writable, or the deadline
			default:
				werr = err
				return true
			}
		}
		return true
	})
	if werr != nil {
		return werr
	}
	return err
}

// settle waits until the kernel holds nothing more for the client, or its
// queue makes no progress for write_timeout.
func (d *halfClosed) settle() error {
	rc, err := d.nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	last, since := int64(-1), time.Now()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		var q int64
		if err := rc.Control(func(fd uintptr) { q = sendQueued(int(fd)) }); err != nil {
			return err
		}
		now := time.Now()
		switch {
		case q == 0:
			return nil
		case q != last:
			last, since = q, now
		case now.Sub(since) > d.timeout:
			return errStalled
		}
		if d.cutOff.Load() {
			return errStalled
		}
		select {
		case <-t.C:
		case <-d.s.ctx.Done():
			return d.s.ctx.Err()
		}
	}
}

// outboundOf is gnet's outbound buffer for c: what gnet holds for the
// client and will write when the socket is writable. gnet has no call that
// hands it back, so this reads the field of gnet's connection (gnet v2.9.7,
// pinned in go.mod; TestGnetOutbound fails if a new version moves it). nil
// if c is not the type it was found in.
func outboundOf(c gnet.Conn) *elastic.Buffer {
	v := reflect.ValueOf(c)
	outbound.once.Do(func() { outbound.find(v.Type()) })
	if outbound.typ == nil || v.Type() != outbound.typ {
		return nil
	}
	return (*elastic.Buffer)(unsafe.Add(v.UnsafePointer(), outbound.offset))
}

var outbound gnetField

// gnetField locates gnet's outbound buffer inside its connection type.
type gnetField struct {
	once   sync.Once
	typ    reflect.Type // gnet's connection type (a pointer)
	offset uintptr      // of its outboundBuffer field
}

func (f *gnetField) find(t reflect.Type) {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return
	}
	sf, ok := t.Elem().FieldByName("outboundBuffer")
	if !ok || sf.Type != reflect.TypeFor[elastic.Buffer]() {
		return
	}
	f.typ, f.offset = t, sf.Offset
}
