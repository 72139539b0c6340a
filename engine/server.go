package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/logq"
)

// Config is what one node's server needs besides its herd.Node.
type Config struct {
	// Listen is the host:port to accept clients and peers on ("127.0.0.1:0"
	// picks a free port; Addr reports it).
	Listen string
	Limits herd.Limits
	// Loops is the number of event loops; 0 means one per core.
	Loops int
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
	// HandOff takes over a connection that opened with a neighbour's PEER
	// handshake: head is that line (with "\n") and the bytes after it. It
	// must not block (the peer links start a goroutine). nil: such lines get
	// "? line".
	HandOff func(conn net.Conn, head []byte)
}

// Server is one node's client port on a gnet reactor. Create it with New,
// then Start it; Stop shuts it down. Start, Stop and Addr may be called from
// any goroutine; the gnet callbacks (OnBoot, OnOpen, OnTraffic, OnClose) run
// on the event loops only.
type Server struct {
	gnet.BuiltinEventEngine

	node *herd.Node
	cfg  Config
	log  *logq.Queue

	eng    gnet.Engine
	addr   string
	booted chan struct{}
	runErr chan error

	nextConn atomic.Uint64
	work     *workers
	stats    statShards                  // per-event-loop counters (stats.go)
	lim      atomic.Pointer[herd.Limits] // the live limits (reload.go)

	ctx    context.Context // cancelled by Stop: ends workers and drainers
	cancel context.CancelFunc

	mu    sync.Mutex
	state serverState    // under mu
	wg    sync.WaitGroup // every goroutine started by goFunc; Stop waits for them
}

type serverState uint8

const (
	stateNew      serverState = iota
	stateRunning              // Start succeeded
	stateStopping             // Stop began, or Start failed: goFunc refuses
)

// New returns a server for node; unset limits take their defaults. It starts
// nothing: Stop without Start is a no-op.
func New(node *herd.Node, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	s := &Server{
		node:   node,
		cfg:    cfg,
		log:    logq.New(cfg.Logger.With("node", node.Name())),
		booted: make(chan struct{}),
		runErr: make(chan error, 1),
	}
	s.lim.Store(&cfg.Limits)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.work = newWorkers(s, node.MaxInFlight())
	return s
}

// goFunc runs f on a new goroutine that Stop waits for. It refuses (returns
// false, and f never runs) once shutdown began, so nothing starts behind
// Stop's back. Any goroutine.
func (s *Server) goFunc(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStopping {
		return false
	}
	s.wg.Go(f)
	return true
}

// Start listens and starts the event loops. It returns once the node
// accepts connections, or with the listen error (for example, the port is in
// use). Start may be called once; after a failed Start the server is done.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return fmt.Errorf("%s: engine: Start called twice or after Stop", s.node.Name())
	}
	s.state = stateRunning
	s.mu.Unlock()
	go s.log.Run()
	loops := s.cfg.Loops
	opts := []gnet.Option{
		gnet.WithMulticore(loops == 0),
		gnet.WithReusePort(false),
		gnet.WithReuseAddr(true), // a restarted node gets its port back at once
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
	}
	if loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(loops))
	}
	s.goFunc(func() { s.runErr <- gnet.Run(s, "tcp://"+s.cfg.Listen, opts...) })
	select {
	case <-s.booted:
	case err := <-s.runErr:
		s.mu.Lock()
		s.state = stateStopping
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		s.log.Close()
		return fmt.Errorf("%s: listen on %s: %w", s.node.Name(), s.cfg.Listen, err)
	}
	s.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "node started", Remote: s.addr})
	s.work.start()
	return nil
}

// OnBoot records the engine and the bound address. Runs once, before any
// connection.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	s.addr = s.cfg.Listen
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			s.addr = sockaddrString(sa, s.cfg.Listen)
		}
		unix.Close(fd)
	}
	close(s.booted)
	return gnet.None
}

func sockaddrString(sa unix.Sockaddr, fallback string) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return fallback
}

// Addr is the address the node listens on, with the real port.
func (s *Server) Addr() string { return s.addr }

// Node is the node this server serves.
func (s *Server) Node() *herd.Node { return s.node }

// Stop shuts the node down gracefully: it stops accepting, closes client
// connections after flushing their pending replies, and waits for every
// goroutine it started. ctx bounds the wait; when it expires Stop returns
// its error, and the goroutines still running end on their own shortly
// (their context is cancelled). Stop is safe before Start, after a failed
// Start, and more than once. Any goroutine.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	prev := s.state
	s.state = stateStopping
	s.mu.Unlock()
	if prev != stateRunning {
		s.cancel()
		return nil
	}
	err := s.eng.Stop(ctx)
	if err == nil {
		select {
		case err = <-s.runErr:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "node stopped"})
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	s.log.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// gnetLogger sends gnet's own messages, which it may write from an event
// loop, through the node's non-blocking log queue.
type gnetLogger struct{ q *logq.Queue }

func (g gnetLogger) log(level slog.Level, f string, a []any) {
	if g.q.Enabled(level) {
		g.q.Send(logq.Event{Level: level, Msg: "gnet: " + fmt.Sprintf(f, a...)})
	}
}

func (g gnetLogger) Debugf(f string, a ...any) { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Infof(f string, a ...any)  { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.log(slog.LevelWarn, f, a) }
func (g gnetLogger) Errorf(f string, a ...any) { g.log(slog.LevelError, f, a) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.log(slog.LevelError, f, a) }
