package baseline

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/logq"
)

// writeTimeout bounds one flush: a client that stops reading its replies
// blocks only its own goroutine, and only this long before it is dropped.
const writeTimeout = 10 * time.Second

// conn is one connection's state, owned by its goroutine.
type conn struct {
	s   *Server
	c   net.Conn
	id  uint64
	r   *bufio.Reader
	w   *bufio.Writer
	hc  herd.Session
	cmd codec.Command
	// handedOff: the connection now belongs to the peer links.
	handedOff bool
	out       []byte // scratch for one reply
}

// serveConn answers c's lines until it closes, fails or the server stops,
// or hands it to the peer links (then it reports true and c stays open).
// It runs on the connection's own goroutine.
func (s *Server) serveConn(c net.Conn) (handedOff bool) {
	lim := s.cfg.Limits
	cn := &conn{
		s:  s,
		c:  c,
		id: s.nextConn.Add(1),
		// The reader holds a whole over-long line's head plus "\r\n", so
		// NextLine can always tell "too long" from "need more".
		r:   bufio.NewReaderSize(c, max(64<<10, lim.MaxLine+2)),
		w:   bufio.NewWriterSize(c, min(64<<10, max(lim.MaxOutbound, 4096))),
		out: make([]byte, 0, 1024),
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "client connected",
		slog.Uint64("conn", cn.id), slog.String("remote", c.RemoteAddr().String()))
	err := cn.run()
	msg := "client disconnected"
	attrs := []slog.Attr{slog.Uint64("conn", cn.id)}
	if cn.handedOff {
		msg = "connection handed to the peer links"
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
	return cn.handedOff
}

// run is the connection's read-answer loop. It returns io.EOF when the
// client closed (after answering its last bytes), nil when the connection
// was closed on purpose, or the I/O error.
func (cn *conn) run() error {
	maxLine := cn.s.cfg.Limits.MaxLine
	warmed := 0 // buffered bytes whose lookups are warmed (herd.Node.Warm), as the engine does
	for {
		// Every complete line already buffered is answered before the
		// replies go out, so a pipelined batch gets one write.
		buf, err := cn.r.Peek(cn.r.Buffered())
		if err != nil {
			return err
		}
		if warmed <= 0 {
			warmed = cn.s.node.Cache().Warm(buf)
		}
		line, n, err := codec.NextLine(buf, maxLine)
		switch err {
		case nil:
			done, err := cn.handle(line)
			if err == nil && cn.handedOff {
				hello := append([]byte(nil), line...)
				_, _ = cn.r.Discard(n)
				return cn.handOff(hello)
			}
			warmed -= n
			if _, derr := cn.r.Discard(n); derr != nil && err == nil {
				err = derr
			}
			if err != nil || done {
				return errors.Join(err, cn.flush())
			}
			continue
		case codec.ErrLineTooLong:
			// docs/PROTOCOL.md, Limits and refusals: "? " and the first
			// limit's worth of bytes, then close.
			cn.s.log.LogAttrs(context.Background(), slog.LevelWarn, "line too long, closing", slog.Uint64("conn", cn.id))
			if err := cn.reply(codec.AppendInvalid(cn.out[:0], buf[:min(len(buf), maxLine)])); err != nil {
				return err
			}
			return cn.flush()
		}
		// Need more bytes: send what is answered, then wait for them.
		if err := cn.flush(); err != nil {
			return err
		}
		if _, err := cn.r.Peek(len(buf) + 1); err != nil {
			if errors.Is(err, io.EOF) {
				return cn.halfClosed()
			}
			return err
		}
	}
}

// halfClosed answers the bytes the client left without a newline as its
// last line, flushes and reports io.EOF.
func (cn *conn) halfClosed() error {
	maxLine := cn.s.cfg.Limits.MaxLine
	buf, _ := cn.r.Peek(cn.r.Buffered())
	if line, err := codec.LastLine(buf, maxLine); err == nil {
		if _, err := cn.handle(line); err != nil {
			return err
		}
	} else if err == codec.ErrLineTooLong {
		if err := cn.reply(codec.AppendInvalid(cn.out[:0], buf[:maxLine])); err != nil {
			return err
		}
	}
	if err := cn.flush(); err != nil {
		return err
	}
	return io.EOF
}

// handle answers one line. done reports that the connection should close
// after its replies are flushed (CloseAfterReply).
func (cn *conn) handle(line []byte) (done bool, err error) {
	s := cn.s
	if s.lines {
		cn.logLine("recv", line)
	}
	out, outcome, e := s.node.Serve(cn.out[:0], line, &cn.cmd, &cn.hc)
	if outcome == herd.HandOff {
		if s.cfg.HandOff != nil {
			cn.handedOff = true
			return false, nil
		}
		out = codec.AppendInvalid(out, line)
	}
	if outcome == herd.NeedsPlaces {
		out = cn.whatsat(out, e)
	}
	cn.out = out[:0]
	if len(out) > 0 {
		if err := cn.reply(out); err != nil {
			return false, err
		}
	}
	return s.cfg.Limits.CloseAfterReply, nil
}

// handOff flushes the replies so far and gives the connection, from its
// handshake line on, to the peer links. It returns nil.
func (cn *conn) handOff(hello []byte) error {
	if err := cn.flush(); err != nil {
		return err
	}
	head := append(append([]byte(nil), hello...), '\n')
	rest, _ := cn.r.Peek(cn.r.Buffered())
	cn.s.cfg.HandOff(cn.c, append(head, rest...))
	return nil
}

// whatsat answers a WHATSAT about e synchronously, holding one of the
// node's in-flight slots for the Places call.
func (cn *conn) whatsat(dst []byte, e *herd.Entry) []byte {
	s := cn.s
	select {
	case s.inFlight <- struct{}{}:
	case <-s.ctx.Done():
		return s.node.WHATSATFailed(dst, e, herd.ErrOverloaded)
	}
	defer func() { <-s.inFlight }()
	return s.node.WHATSAT(s.ctx, dst, e, herd.WhatsatQuery{RadiusKm: cn.cmd.RadiusKm, Bound: cn.cmd.Bound})
}

// reply buffers one whole reply. A reply never straddles two writes: when it
// does not fit in what the writer has left, the writer is flushed first (and
// a reply larger than the whole buffer goes out in one direct write).
func (cn *conn) reply(b []byte) error {
	if cn.s.lines {
		cn.logLine("send", b)
	}
	if len(b) > cn.w.Available() && cn.w.Buffered() > 0 {
		if err := cn.flush(); err != nil {
			return err
		}
	}
	if len(b) > cn.w.Available() {
		_ = cn.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	_, err := cn.w.Write(b)
	return err
}

// flush writes the buffered replies, bounded by writeTimeout.
func (cn *conn) flush() error {
	if cn.w.Buffered() == 0 {
		return nil
	}
	_ = cn.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	return cn.w.Flush()
}

func (cn *conn) logLine(msg string, data []byte) {
	attrs := []slog.Attr{slog.Uint64("conn", cn.id)}
	attrs = append(attrs, slog.String("line", string(data[:min(len(data), logq.MaxData)])))
	if len(data) > logq.MaxData {
		attrs = append(attrs, slog.Int("len", len(data)))
	}
	cn.s.log.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
}
