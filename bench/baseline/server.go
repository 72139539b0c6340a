package baseline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
)

// Config is what one node's server needs besides its herd.Node.
type Config struct {
	Listen string // host:port; port 0 picks a free port (Addr reports it)
	Limits engine.Limits
	Logger *slog.Logger // nil discards the log
	// HandOff takes over a connection that opened with a neighbour's PEER
	// handshake (head: that line and the bytes read after it); nil: such
	// lines get "? line".
	HandOff func(conn net.Conn, head []byte)
}

// Server is one goroutine-per-connection node. Create it with New, then
// Start it; Stop shuts it down. Every method may be called from any
// goroutine.
type Server struct {
	node  *herd.Node
	cfg   Config
	log   *slog.Logger
	lines bool // log every line received and sent (Debug enabled)
	// inFlight bounds the Places calls the node runs at once; a connection
	// waits for a slot, which keeps its replies in order.
	inFlight chan struct{}

	ln       net.Listener
	addr     string
	nextConn atomic.Uint64

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	ctx     context.Context // cancelled by Stop: ends pending Places calls
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine started here (wg.Go); Stop waits for them
	started atomic.Bool
	stopped atomic.Bool
	done    chan struct{} // closed when Stop finished
}

// New returns a server for node. Unset limits get their defaults.
func New(node *herd.Node, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	log := cfg.Logger.With("node", node.Name())
	s := &Server{
		node:     node,
		cfg:      cfg,
		log:      log,
		lines:    log.Enabled(context.Background(), slog.LevelDebug),
		inFlight: make(chan struct{}, node.MaxInFlight()),
		conns:    map[net.Conn]struct{}{},
		done:     make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Start listens and starts accepting. It returns once the node accepts
// connections, or with the listen error. Call it once.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("baseline: server already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", s.node.Name(), s.cfg.Listen, err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.log.Info("node started", "remote", s.addr, "io", "goroutine-per-connection")
	s.wg.Go(s.accept)
	return nil
}

// Addr is the address the node listens on, with the real port.
func (s *Server) Addr() string { return s.addr }

// Done is closed once Stop has stopped the server (it never stops on its
// own).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is nil: the server never stops on its own.
func (s *Server) Err() error { return nil }

// Stats are zero: the baseline keeps no engine counters.
func (s *Server) Stats() engine.Stats { return engine.Stats{} }

// SetLimits does nothing: the baseline's limits are fixed at New.
func (s *Server) SetLimits(engine.Limits) {}

// accept runs until the listener is closed.
func (s *Server) accept() {
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.stopped.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or the like: wait a little and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed, retrying", "err", err.Error())
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Go(func() {
			s.untrack(c, !s.serveConn(c))
		})
	}
}

// track registers c so Stop can close it; it reports false once stopping.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// untrack forgets c, closing it unless the peer links took it over.
func (s *Server) untrack(c net.Conn, close bool) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if close {
		c.Close()
	}
}

// Stop shuts the node down: it stops accepting, closes every connection,
// and waits for every goroutine it
// started. ctx bounds the wait.
func (s *Server) Stop(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	defer close(s.done)
	s.cancel()
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.log.Info("node stopped")
	return nil
}
