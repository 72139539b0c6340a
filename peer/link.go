package peer

import (
	"bufio"
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
	"github.com/herdnet/herd/internal/logq"
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
	q       chan *herd.Entry
	up      atomic.Bool
	dropped atomic.Uint64
	st      linkStats // state, since, ups, sent (stats.go)
	// ctx ends the link: when the links close, or when a reload removes
	// the neighbour (reload.go).
	ctx    context.Context
	cancel context.CancelFunc
}

// Neighbor is a node to link with. Address is host:port and is resolved
// again on every reconnect.
type Neighbor struct {
	Name    string
	Address string
}

// Links is a node's set of outbound peer links. It implements herd.Flooder.
// Both I/O models (the gnet engine and the goroutine-per-connection
// baseline) use it, so they flood identically.
type Links struct {
	name    string
	cache   *herd.Cache
	cfg     herd.PeerConfig
	log     *logq.Queue
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine started here (wg.Go); Stop waits for them
	list    atomic.Pointer[[]*link]
	stopped atomic.Bool
	reload  sync.Mutex // serialises Update (reload.go)
}

// New returns the links of the node called name, whose view is cache, not
// yet connected; unset settings in cfg take their defaults. logger receives
// link up/down notices (nil discards them). Close releases them.
func New(name string, cache *herd.Cache, cfg herd.PeerConfig, logger *slog.Logger) *Links {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ls := &Links{name: name, cache: cache, cfg: cfg.WithDefaults(), log: logq.New(logger.With("node", name))}
	ls.ctx, ls.cancel = context.WithCancel(context.Background())
	go ls.log.Run()
	return ls
}

// Connect starts one outbound link per neighbour. Call it once.
func (ls *Links) Connect(neighbors []Neighbor) {
	links := make([]*link, len(neighbors))
	for i, nb := range neighbors {
		links[i] = ls.startLink(nb)
	}
	ls.list.Store(&links)
}

func (ls *Links) links() []*link {
	if p := ls.list.Load(); p != nil {
		return *p
	}
	return nil
}

// Flood implements herd.Flooder: it queues e on every link but from's.
// Non-blocking; safe on any goroutine.
func (ls *Links) Flood(e *herd.Entry, from string) {
	for _, l := range ls.links() {
		if l.name != from {
			l.enqueue(e)
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
	ls.reload.Lock() // no Update starts a link behind Close's back
	first := ls.stopped.CompareAndSwap(false, true)
	ls.reload.Unlock()
	if !first {
		return
	}
	ls.cancel()
	ls.wg.Wait()
	ls.log.Close()
}

// enqueue queues e for the neighbour. While the link is down it does
// nothing: the push on reconnect carries the whole cache. When the queue is
// full the oldest update goes (counted). Non-blocking; any goroutine.
func (l *link) enqueue(e *herd.Entry) {
	if !l.up.Load() {
		return
	}
	for range 2 {
		select {
		case l.q <- e:
			return
		default:
		}
		select {
		case <-l.q:
			l.dropped.Add(1)
		default:
		}
	}
	l.dropped.Add(1)
}

// run keeps the link up until the server stops.
func (l *link) run() {
	ctx := l.ctx
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
			l.st.set(StateDown)
			if failures++; failures == 1 {
				l.ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "neighbour unreachable, retrying", Peer: l.name, Remote: l.addr, Err: err})
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
	for len(l.q) > 0 {
		<-l.q
	}

	// Handshake: each side names itself. A neighbour that does not answer
	// in time (say, one shutting down, whose kernel accepted the connection
	// but whose loops are gone), or answers with another name, is retried.
	r := bufio.NewReaderSize(conn, 256)
	w := bufio.NewWriterSize(&deadlineWriter{conn}, 64<<10)
	_, _ = w.Write(codec.AppendPeer(nil, l.ls.name))
	err := w.Flush()
	if err == nil {
		err = l.expectHello(conn, r)
	}
	if err != nil {
		l.ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "link handshake failed", Peer: l.name, Remote: l.addr, Err: err})
		l.st.set(StateDown)
		return false
	}

	l.up.Store(true)
	l.st.set(StateUp)
	defer l.st.set(StateDown)
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
	l.ls.cache.Range(func(e *herd.Entry) bool {
		err = writeEntry(w, e)
		pushed++
		return err == nil
	})
	if err == nil {
		err = w.Flush()
	}
	l.st.sent.Add(uint64(pushed))
	l.ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "link up", Peer: l.name, Remote: conn.RemoteAddr().String(), Pushed: pushed})

	for err == nil {
		select {
		case <-gone:
			err = io.EOF
		case <-ctx.Done():
			// Shutting down: flush what is queued, then close.
			for err == nil && len(l.q) > 0 {
				err = l.send(w, <-l.q)
			}
			if err == nil {
				err = w.Flush()
			}
			l.ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "link closed", Peer: l.name})
			return true
		case e := <-l.q:
			err = l.send(w, e)
			// Batch whatever else is waiting into the same write.
			for err == nil && len(l.q) > 0 && w.Available() > 1024 {
				err = l.send(w, <-l.q)
			}
			if err == nil {
				err = w.Flush()
			}
		}
	}
	l.ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "link down", Peer: l.name, Err: err})
	return true
}

// errWrongPeer means the node at a neighbour's address has another name.
var errWrongPeer = errors.New("peer: the node at this address answered with another name")

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

// send writes a queued update unless a newer one for the same client has
// replaced it in the cache since it was queued: the newer one is queued too
// (or came from this neighbour), so the older is dropped, as memberlist's
// Broadcast.Invalidates does. Link goroutine only.
func (l *link) send(w *bufio.Writer, e *herd.Entry) error {
	if l.ls.cache.Get(e.ClientID()) != e {
		return nil
	}
	l.st.sent.Add(1)
	return writeEntry(w, e)
}

func writeEntry(w *bufio.Writer, e *herd.Entry) error {
	if _, err := w.Write(e.Line); err != nil {
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
