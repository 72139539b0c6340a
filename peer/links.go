package peer

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/logq"
)

// Config is a node's peer-link settings, taken once by New.
type Config struct {
	// Name is this node's name.
	Name string
	// Cache is the node's view, reconciled with each neighbour's.
	Cache *herd.Cache
	// Peers tunes the links; unset fields take their defaults.
	Peers Settings
	// Secret is the herd secret: every link proves it knows it with an HMAC
	// challenge-response over fresh nonces. Empty: the open "PEER name"
	// handshake.
	Secret []byte
	// TLS, when set, runs every link over mutual TLS (the peer port).
	TLS *TLS
	// Logger receives link notices; nil discards them.
	Logger *slog.Logger
	// Dial opens the connection of an outbound link (seam.go); nil: TCP
	// (TCPDialer with Peers: dial timeout, keepalive, TCP_USER_TIMEOUT). Tests and the simulator dial an
	// in-memory network.
	Dial Dialer
	// Clock is the links' time of day (link states, sync ages, log
	// summaries); nil: time.Now. Connection deadlines stay on the wall
	// clock, which is the connections' own.
	Clock func() time.Time
}

// MaxInbound bounds the inbound links (handshaking or up) a node serves at
// once, on the client port and the peer port together: connections that
// claim to be neighbours do not count against max_conns, so they are
// bounded here.
const MaxInbound = 64

// Neighbor is a node to link with. Address is host:port and is resolved
// again on every reconnect.
type Neighbor struct {
	Name    string
	Address string
}

// Links is a node's set of peer links: one outbound link per neighbour,
// which carries this node's updates to it, and the inbound links that
// neighbours opened, which carry theirs here (arriving on the peer port, or
// on the client port and handed over by the engine). It implements
// herd.Flooder, so both I/O models flood identically. Every method is safe
// on any goroutine.
type Links struct {
	cfg  Config
	p    Settings
	log  *logq.Queue
	node *herd.Node   // set by Start, before ready is closed
	seed maphash.Seed // hashes client ids for the links' pending sets

	ctx    context.Context
	cancel context.CancelFunc
	// abort ends when Shutdown gives up waiting: every outbound
	// connection still flushing is closed.
	abort    context.Context
	abortNow context.CancelFunc
	ready    chan struct{} // closed by Start: inbound links wait for it
	list     atomic.Pointer[[]*link]
	// allowed are the names inbound links may have: the neighbours given
	// to Start, or to the last Update.
	allowed atomic.Pointer[[]string]
	reload  sync.Mutex // serialises Update (reload.go) with Close

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup       // every goroutine started by goFunc; Close waits for them
	conns   map[net.Conn]*inLink // every inbound connection; its link once linked in
	lns     []net.Listener

	refused refusals // inbound links refused (refusals.go)
	tree    nodeTree // the spanning-tree push (tree.go)
}

// New returns the links of a node, not yet connected. Close releases them.
func New(cfg Config) *Links {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	p := cfg.Peers.WithDefaults()
	if cfg.Dial == nil {
		cfg.Dial = TCPDialer(p)
	}
	ls := &Links{
		cfg:   cfg,
		p:     p,
		log:   logq.New(cfg.Logger.With("node", cfg.Name)),
		ready: make(chan struct{}),
		conns: map[net.Conn]*inLink{},
		seed:  maphash.MakeSeed(),
	}
	ls.ctx, ls.cancel = context.WithCancel(context.Background())
	ls.abort, ls.abortNow = context.WithCancel(context.Background())
	go ls.log.Run()
	return ls
}

// goFunc runs f on a goroutine Close waits for; it refuses (false) once
// Close began.
func (ls *Links) goFunc(f func()) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.stopped {
		return false
	}
	ls.wg.Go(f)
	return true
}

// Listen serves the peer port on addr (port 0 picks one) and returns the
// address it listens on. With TLS configured, every connection is mutual
// TLS. Call it before Start; connections wait for Start.
func (ls *Links) Listen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	return ls.Serve(ln)
}

// Serve serves inbound links on ln, which Close closes (Listen serves a
// TCP port this way; tests and the simulator serve an in-memory listener),
// and returns its address. Any goroutine.
func (ls *Links) Serve(ln net.Listener) (string, error) {
	ls.mu.Lock()
	ls.lns = append(ls.lns, ln)
	ls.mu.Unlock()
	if !ls.goFunc(func() { ls.accept(ln) }) {
		ln.Close()
		return "", errors.New("peer: links closed")
	}
	ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "peer port open", Remote: ln.Addr().String()})
	return ln.Addr().String(), nil
}

func (ls *Links) accept(ln net.Listener) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ls.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-ls.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		ls.Accept(c, nil)
	}
}

// Accept takes over an inbound connection whose first bytes are head (the
// engine hands over a client-port connection that opened with a PEER line
// this way; the peer port passes nil). It never blocks.
func (ls *Links) Accept(conn net.Conn, head []byte) {
	if ls.cfg.TLS != nil {
		if len(head) > 0 { // TLS links only come through the peer port
			_, _ = conn.Write([]byte("? PEER: this node links over TLS on its peer port\n"))
			conn.Close()
			return
		}
		conn = ls.cfg.TLS.server(conn)
	}
	if !ls.track(conn) {
		conn.Close()
		return
	}
	if !ls.goFunc(func() {
		defer ls.untrack(conn)
		ls.serveInbound(conn, head)
	}) {
		ls.untrack(conn)
	}
}

func (ls *Links) track(c net.Conn) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.stopped {
		return false
	}
	if len(ls.conns) >= MaxInbound {
		// A node has a handful of neighbours, each with one inbound link
		// (two while it reconnects): more is someone claiming to be a
		// neighbour to escape max_conns. Refuse before any buffer is made.
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte("? PEER: too many inbound links\n"))
		ls.refuse(RefusedTooMany, "", c.RemoteAddr().String(), errTooMany)
		return false
	}
	ls.conns[c] = nil
	return true
}

func (ls *Links) untrack(c net.Conn) {
	ls.mu.Lock()
	delete(ls.conns, c)
	ls.mu.Unlock()
	c.Close()
}

// Start starts one outbound link per neighbour and lets inbound links in
// from those neighbours only; node applies the updates they send. Call it
// once.
func (ls *Links) Start(node *herd.Node, neighbors []Neighbor) {
	ls.node = node
	links := make([]*link, len(neighbors))
	names := make([]string, len(neighbors))
	for i, nb := range neighbors {
		links[i] = newLink(ls, nb)
		names[i] = nb.Name
	}
	ls.allowed.Store(&names)
	ls.list.Store(&links)
	close(ls.ready)
	for _, l := range links {
		ls.goFunc(l.run)
	}
	ls.goFunc(ls.summariseRefusals)
	if ls.p.Tree {
		ls.goFunc(ls.runTree)
	}
}

func (ls *Links) links() []*link {
	if p := ls.list.Load(); p != nil {
		return *p
	}
	return nil
}

func (ls *Links) link(name string) *link {
	for _, l := range ls.links() {
		if l.name == name {
			return l
		}
	}
	return nil
}

func (ls *Links) isNeighbor(name string) bool {
	p := ls.allowed.Load()
	return p != nil && slices.Contains(*p, name)
}

// Flood implements herd.Flooder: it adds the line's client to the pending
// set of every link but from's; each link sends the client's newest line
// when it writes. Non-blocking; safe on any goroutine; allocates nothing
// once the sets have grown.
func (ls *Links) Flood(line []byte, from string) {
	e := herd.Entry{Line: line}
	id := e.ClientID()
	if len(id) == 0 {
		return
	}
	var h uint64
	hashed := false
	for _, l := range ls.links() {
		if l.name != from {
			if !hashed {
				h, hashed = maphash.Bytes(ls.seed, id), true
			}
			l.floodTo(id, h, ls.cfg.Clock)
		} else {
			l.tree.news.Add(1)
		}
	}
}

// Holds implements herd.Holder: the neighbour from sent the line this node
// holds, so the client need not be sent back to it. Non-blocking; safe on
// any goroutine.
func (ls *Links) Holds(line []byte, from string) {
	l := ls.link(from)
	if l == nil {
		return
	}
	e := herd.Entry{Line: line}
	if id := e.ClientID(); len(id) > 0 {
		h := maphash.Bytes(ls.seed, id)
		l.q.remove(id, h, ls.cfg.Cache, line)
		l.tree.announce.remove(id, h, ls.cfg.Cache, line) // nor announced
	}
}

// Close flushes what is queued on each outbound link, closes every link
// and the peer port, and waits for their goroutines. Later calls do nothing.
func (ls *Links) Close() { _ = ls.Shutdown(context.Background()) }

// Shutdown is Close bounded by ctx: when ctx ends before every outbound
// link has flushed (a neighbour that reads slowly), the connections still
// flushing are closed, what they had not written is left to the sync with
// the neighbour when this node comes back, and Shutdown returns ctx's
// error once every goroutine of the links has ended.
func (ls *Links) Shutdown(ctx context.Context) error {
	ls.reload.Lock() // no Update starts a link behind Close's back
	defer ls.reload.Unlock()
	ls.mu.Lock()
	if ls.stopped {
		ls.mu.Unlock()
		return nil
	}
	ls.stopped = true
	for _, ln := range ls.lns {
		ln.Close()
	}
	for c := range ls.conns {
		c.Close()
	}
	ls.mu.Unlock()
	ls.cancel()
	stop := context.AfterFunc(ctx, ls.abortNow)
	ls.wg.Wait()
	cut := !stop() // ctx ended first: abortNow ran
	ls.abortNow()
	ls.log.Close()
	if cut {
		return ctx.Err()
	}
	return nil
}

// wake is called when the neighbour name proved itself on an inbound link:
// it has just (re)started or reconnected, so the outbound link to it redials
// now instead of waiting out its backoff, or, if it believes it is up,
// syncs at once (which also reveals a connection the neighbour dropped).
func (ls *Links) wake(name string) {
	l := ls.link(name)
	if l == nil {
		return
	}
	select {
	case l.wakeCh <- struct{}{}:
	default:
	}
	if l.up.Load() {
		l.wantSync()
	}
}
