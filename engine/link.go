package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// link is the outbound half of the connection with one neighbour: this node
// dials it, says who it is, pushes its whole cache (so a neighbour that
// restarted empty or missed updates during a cut converges), then streams
// updates from a bounded queue. The neighbour's own link to us carries the
// other direction. A link never blocks an event loop: Flood only does a
// non-blocking channel send.
type link struct {
	ls      *Links
	name    string
	addr    string
	q       *updq  // updates copied in by Flood; any goroutine
	spare   []byte // the queue buffer taken last; link goroutine only
	scratch []byte // for comparing with the cache; link goroutine only
	up      atomic.Bool
	dropped atomic.Uint64
}

// Links is a node's set of outbound peer links. It implements herd.Flooder.
// Both I/O models (the gnet Server and the goroutine-per-connection
// baseline) use it, so they flood identically.
type Links struct {
	node    *herd.Node
	cfg     herd.PeerConfig
	log     *logq
	ownLog  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine started here (wg.Go); Stop waits for them
	list    atomic.Pointer[[]*link]
	stopped atomic.Bool
}

// NewLinks returns the links of node, not yet connected; logger receives
// link up/down notices (nil discards them).
func NewLinks(node *herd.Node, cfg herd.PeerConfig, logger *slog.Logger) *Links {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ls := newLinks(node, cfg, newLogq(logger.With("node", node.Name())))
	ls.ownLog = true
	go ls.log.run()
	return ls
}

func newLinks(node *herd.Node, cfg herd.PeerConfig, log *logq) *Links {
	ls := &Links{node: node, cfg: cfg, log: log}
	ls.ctx, ls.cancel = context.WithCancel(context.Background())
	return ls
}

// Connect starts one outbound link per neighbour. Call it once.
func (ls *Links) Connect(neighbors []Neighbor) {
	links := make([]*link, len(neighbors))
	for i, nb := range neighbors {
		links[i] = &link{ls: ls, name: nb.Name, addr: nb.Address, q: newUpdq(ls.cfg.Queue)}
		ls.wg.Go(links[i].run)
	}
	ls.list.Store(&links)
}

func (ls *Links) links() []*link {
	if p := ls.list.Load(); p != nil {
		return *p
	}
	return nil
}

// Flood implements herd.Flooder: it copies line into the queue of every
// link but from's. Non-blocking; safe on any goroutine.
func (ls *Links) Flood(line []byte, from string) {
	for _, l := range ls.links() {
		if l.name != from {
			l.enqueue(line)
		}
	}
}

// LinkStatus describes one outbound peer link.
type LinkStatus struct {
	Name    string
	Up      bool
	Dropped uint64 // updates dropped because the queue was full
}

// Status reports the state of every link. Any goroutine.
func (ls *Links) Status() []LinkStatus {
	links := ls.links()
	out := make([]LinkStatus, len(links))
	for i, l := range links {
		out[i] = LinkStatus{Name: l.name, Up: l.up.Load(), Dropped: l.dropped.Load()}
	}
	return out
}

// Close flushes what is queued, closes every link and waits for their
// goroutines. Any goroutine; later calls do nothing.
func (ls *Links) Close() {
	if !ls.stopped.CompareAndSwap(false, true) {
		return
	}
	ls.cancel()
	ls.wg.Wait()
	if ls.ownLog {
		ls.log.close()
	}
}

// enqueue queues a copy of line for the neighbour. While the link is down
// it does nothing: the push on reconnect carries the whole cache. When the
// queue is full the oldest update goes (counted). Non-blocking; any
// goroutine.
func (l *link) enqueue(line []byte) {
	if !l.up.Load() {
		return
	}
	if l.q.push(line) {
		l.dropped.Add(1)
	}
}

// run keeps the link up until the server stops.
func (l *link) run() {
	ctx := l.ls.ctx
	p := l.ls.cfg
	backoff := p.BackoffMin
	failures := 0
	for ctx.Err() == nil {
		d := net.Dialer{Timeout: p.DialTimeout}
		conn, err := d.DialContext(ctx, "tcp", l.addr) // resolves the name again each time
		if err == nil && l.serve(ctx, conn) {
			failures, backoff = 0, p.BackoffMin
			continue
		}
		if err != nil {
			if failures++; failures == 1 {
				l.ls.log.send(logEvent{level: slog.LevelWarn, msg: "neighbour unreachable, retrying", peer: l.name, remote: l.addr, err: err})
			}
		}
		// Full jitter over [backoff/2, backoff], doubling up to the cap.
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, p.BackoffMax)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// serve runs one connection of the link until it breaks or ctx ends. It
// reports whether the handshake succeeded.
func (l *link) serve(ctx context.Context, conn net.Conn) bool {
	defer conn.Close()
	// Updates queued for a previous connection are in the cache: the push
	// below sends them.
	l.q.clear()

	// Handshake: each side names itself. A neighbour that does not answer
	// in time (say, one shutting down, whose kernel accepted the connection
	// but whose loops are gone), or answers with another name, is retried.
	r := bufio.NewReaderSize(conn, 256)
	w := bufio.NewWriterSize(&deadlineWriter{conn}, 64<<10)
	_, _ = w.Write(codec.AppendPeer(nil, l.ls.node.Name()))
	err := w.Flush()
	if err == nil {
		err = l.expectHello(conn, r)
	}
	if err != nil {
		l.ls.log.send(logEvent{level: slog.LevelWarn, msg: "link handshake failed", peer: l.name, remote: l.addr, err: err})
		return false
	}

	l.up.Store(true)
	defer l.up.Store(false)
	// After the handshake the neighbour never writes on this connection: a
	// read returns only when it goes away, which is how a restart is noticed
	// without waiting for the next update.
	gone := make(chan struct{})
	l.ls.wg.Go(func() {
		_, _ = io.Copy(io.Discard, r)
		close(gone)
	})

	pushed := 0
	l.ls.node.Cache().Range(func(_ []byte, _ codec.Stamp, line []byte) bool {
		err = writeLine(w, line)
		pushed++
		return err == nil
	})
	if err == nil {
		err = w.Flush()
	}
	l.ls.log.send(logEvent{level: slog.LevelInfo, msg: "link up", peer: l.name, remote: conn.RemoteAddr().String(), pushed: pushed})

	for err == nil {
		select {
		case <-gone:
			err = io.EOF
		case <-ctx.Done():
			// Shutting down: flush what is queued, then close.
			err = l.sendQueued(w)
			if err == nil {
				err = w.Flush()
			}
			l.ls.log.send(logEvent{level: slog.LevelInfo, msg: "link closed", peer: l.name})
			return true
		case <-l.q.ready:
			// Everything waiting goes out in as few writes as it takes.
			err = l.sendQueued(w)
			if err == nil {
				err = w.Flush()
			}
		}
	}
	l.ls.log.send(logEvent{level: slog.LevelWarn, msg: "link down", peer: l.name, err: err})
	return true
}

// errWrongPeer means the node at a neighbour's address has another name.
var errWrongPeer = errors.New("engine: the node at this address answered with another name")

// expectHello reads the neighbour's handshake answer, "PEER its-name".
func (l *link) expectHello(conn net.Conn, r *bufio.Reader) error {
	_ = conn.SetReadDeadline(time.Now().Add(l.ls.cfg.DialTimeout))
	defer conn.SetReadDeadline(time.Time{})
	raw, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	var cmd codec.Command
	line, _, _ := codec.NextLine(raw, len(raw))
	if codec.Parse(line, &cmd) != nil || cmd.Kind != codec.KindPeer || string(cmd.Origin) != l.name {
		return fmt.Errorf("%w: want %q, got %q", errWrongPeer, l.name, line)
	}
	return nil
}

// sendQueued sends every queued update. Link goroutine only.
func (l *link) sendQueued(w *bufio.Writer) error {
	lines, full := l.q.take(l.spare)
	l.spare = full // handed back on the next take, after these lines are sent
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if err := l.send(w, lines[:i]); err != nil {
			return err
		}
		lines = lines[i+1:]
	}
	return nil
}

// send writes a queued update unless a newer one for the same client has
// replaced it in the cache since it was queued: the newer one is queued too
// (or came from this neighbour), so the older is dropped, as memberlist's
// Broadcast.Invalidates does. Link goroutine only.
func (l *link) send(w *bufio.Writer, line []byte) error {
	e := herd.Entry{Line: line}
	held, ok := l.ls.node.Cache().AppendLine(l.scratch[:0], e.ClientID())
	l.scratch = held
	if !ok || !bytes.Equal(held, line) {
		return nil
	}
	return writeLine(w, line)
}

func writeLine(w *bufio.Writer, line []byte) error {
	if _, err := w.Write(line); err != nil {
		return err
	}
	return w.WriteByte('\n')
}

// deadlineWriter bounds every write so a neighbour that stops reading
// breaks the link instead of stalling it forever.
type deadlineWriter struct{ c net.Conn }

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return d.c.Write(p)
}
