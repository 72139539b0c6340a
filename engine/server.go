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
	"time"

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
	Limits Limits
	// Loops is the number of event loops; 0 means one per core.
	Loops int
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
	// HandOff takes over a connection that opened with a neighbour's PEER
	// handshake: head is that line (with "\n") and the bytes after it. It
	// must not block (the peer links start a goroutine). nil: such lines get
	// "? line".
	HandOff func(conn net.Conn, head []byte)
	// FDShare is how many servers share this process's descriptors (herd up
	// runs several nodes): the automatic max_conns divides the fd limit by
	// it. 0 means 1.
	FDShare int
	// SummaryInterval is how often the node logs, at info, what it refused
	// or dropped (only when something was); default 10s.
	SummaryInterval time.Duration
}

// Server is one node's client port on a gnet reactor. Create it with New,
// then Start it; Stop shuts it down. Start, Stop and Addr may be called from
// any goroutine; gnet's callbacks (handler.go: onBoot, onOpen, onTraffic,
// onClose, onTick) run on the event loops only.
type Server struct {
	node *herd.Node
	cfg  Config
	log  *logq.Queue

	eng    gnet.Engine
	addr   string
	booted chan struct{}
	runErr chan error

	nextConn atomic.Uint64
	work     *workers
	stats    statShards             // per-event-loop counters (stats.go)
	lim      atomic.Pointer[Limits] // the live limits (reload.go)

	// Limits: see limits.go and drain.go.
	maxConns     int
	backlog      int        // listen backlog, bounded by the fd headroom
	timeouts     limitsView // idle, line and write timeouts, fixed at New
	tickEvery    time.Duration
	clock        atomic.Int64 // coarse clock (unix ns), advanced by the ticker
	clients      atomic.Int64 // connections counting against maxConns
	peerSlots    atomic.Int64 // connections outside it: neighbours, probation
	open         atomic.Int64 // every open connection
	owed         atomic.Int64 // output bytes owed to all clients
	conns        registry
	closed       closeCounts // what the node refused or cut off, for the summary log
	tick         ticker      // OnTick only
	freeOSMemory atomic.Bool
	draining     atomic.Bool
	drained      chan struct{} // closed once draining and no connection is open
	drainedOnce  sync.Once
	drainWG      sync.WaitGroup         // goroutines writing to half-closed clients
	halfClosed   halfClosedSet          // their deliveries
	gnetErr      atomic.Pointer[string] // gnet's first error message
	done         chan struct{}          // closed when the reactor stopped
	doneErr      error                  // why, if not Stop; set before done closes

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
		node:    node,
		cfg:     cfg,
		log:     logq.New(cfg.Logger.With("node", node.Name())),
		booted:  make(chan struct{}),
		runErr:  make(chan error, 1),
		drained: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.lim.Store(&cfg.Limits)
	if s.cfg.SummaryInterval <= 0 {
		s.cfg.SummaryInterval = 10 * time.Second
	}
	s.timeouts = limitsView{idle: cfg.Limits.IdleTimeout, line: cfg.Limits.LineTimeout, write: cfg.Limits.WriteTimeout}
	s.tickEvery = tickEvery(s.timeouts)
	s.clock.Store(time.Now().UnixNano())
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

// goDeliver runs f, a delivery to a half-closed client, on a goroutine
// Stop waits for. Unlike goFunc it is allowed while Stop drains (a client
// that half-closes then is owed its replies as much as any); it refuses
// once Stop gave up waiting.
func (s *Server) goDeliver(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
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
	limit := fdLimit()
	maxConns, lowered := maxConnsFor(s.cfg.Limits.MaxConns, limit, s.cfg.FDShare)
	s.maxConns = maxConns
	s.backlog = backlogFor(limit, s.cfg.FDShare, maxConns)
	loops := s.cfg.Loops
	opts := []gnet.Option{
		gnet.WithMulticore(loops == 0),
		gnet.WithReusePort(false),
		gnet.WithReuseAddr(true), // a restarted node gets its port back at once
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log, &s.gnetErr}),
		gnet.WithTicker(true),
	}
	if loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(loops))
	}
	s.goFunc(func() {
		err := gnet.Run(&handler{s: s}, "tcp://"+s.cfg.Listen, opts...)
		s.mu.Lock()
		stopping := s.state == stateStopping
		s.mu.Unlock()
		booted := false
		select {
		case <-s.booted:
			booted = true
		default:
		}
		if booted && !stopping {
			// The reactor stopped on its own (gnet gives up on an accept
			// error, for one): say why, so the process can exit and be
			// restarted rather than idle without a listener.
			why := "reactor stopped"
			if p := s.gnetErr.Load(); p != nil {
				why += ": " + *p
			}
			s.doneErr = errors.Join(fmt.Errorf("%s: engine: %s", s.node.Name(), why), err)
			s.log.Send(logq.Event{Level: slog.LevelError, Msg: "reactor stopped unexpectedly", Err: s.doneErr})
		}
		close(s.done)
		s.runErr <- err
	})
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
	s.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "node started", Remote: s.addr,
		Attrs: []slog.Attr{slog.Int("fd_limit", limit), slog.Int("max_conns", maxConns)}})
	if lowered {
		s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "limits.max_conns lowered to stay under the fd limit",
			Attrs: []slog.Attr{slog.Int("configured", s.cfg.Limits.MaxConns), slog.Int("max_conns", maxConns)}})
	}
	s.work.start()
	return nil
}

// Done is closed when the reactor stops: after Stop, or on its own (then
// Err says why, and the node should exit so that a supervisor restarts
// it). Any goroutine.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is why the reactor stopped on its own; nil before Done is closed or
// after a Stop. Any goroutine.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.doneErr
	default:
		return nil
	}
}

// onBoot records the engine and the bound address. Runs once, before any
// connection.
func (s *Server) onBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	s.addr = s.cfg.Listen
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			s.addr = sockaddrString(sa, s.cfg.Listen)
		}
		// gnet listens with the system's largest backlog (somaxconn), and
		// accepts a whole backlog before a loop can refuse any of it: keep
		// the backlog within half the descriptors left above max_conns.
		// (listen on a listening socket only changes its backlog.)
		_ = unix.Listen(fd, s.backlog)
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

// Stop shuts the node down gracefully (see drain.go): it stops accepting
// and reading, delivers every reply owed (those of WHATSATs still running
// included), shuts each connection's write side and closes it without a
// reset, then stops the reactor and waits for every goroutine it started.
// ctx bounds all of it (limits.shutdown_timeout in the binaries); when it
// expires the connections left are closed, Stop returns its error, and the
// goroutines still running end on their own shortly (their context is
// cancelled). Stop is safe before Start, after a failed Start, and more
// than once. Any goroutine.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	prev := s.state
	s.state = stateStopping
	s.mu.Unlock()
	if prev != stateRunning {
		s.cancel()
		return nil
	}
	// Keep some of the time for stopping the reactor itself (closing what
	// is left, with the output gnet still holds): a quarter, at most a
	// second (a tenth was too little under the race detector for a 2 s
	// context, TestStopTimedOutDrainStopsCleanly).
	drainCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		drainCtx, cancel = context.WithDeadline(ctx, dl.Add(-min(time.Until(dl)/4, time.Second)))
		defer cancel()
	}
	s.drain(drainCtx)
	var err error
	select {
	case <-s.done: // stopped on its own
		err = <-s.runErr
	default:
		// gnet's Engine.Stop checks for the end only every 500 ms, more
		// than the reserve left when a drain ran out of time (under 5 s of
		// shutdown_timeout): wait for the reactor's own return instead.
		stopCtx, cancelStop := context.WithCancel(ctx)
		stopped := make(chan error, 1)
		go func() { stopped <- s.eng.Stop(stopCtx) }()
		select {
		case err = <-s.runErr:
		case err = <-stopped:
			if err == nil {
				select {
				case err = <-s.runErr:
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
		}
		cancelStop()
	}
	select {
	case <-s.done: // the reactor, and so the ticker, has ended
		s.summary() // the last interval's refusals
	default:
	}
	// Replies still being written to half-closed clients.
	waitCtx(ctx, &s.drainWG)
	s.mu.Lock() // no delivery starts after this (goDeliver)
	s.cancel()
	s.mu.Unlock()
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

// waitCtx waits for wg, or until ctx ends.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// gnetLogger sends gnet's own messages, which it may write from an event
// loop, through the node's non-blocking log queue, and keeps the first error
// (why the reactor stopped, when it stops on its own).
type gnetLogger struct {
	q    *logq.Queue
	last *atomic.Pointer[string]
}

func (g gnetLogger) log(level slog.Level, f string, a []any) {
	if level >= slog.LevelError {
		msg := fmt.Sprintf(f, a...)
		g.last.CompareAndSwap(nil, &msg) // the first error is the cause
	}
	if g.q.Enabled(level) {
		g.q.Send(logq.Event{Level: level, Msg: "gnet: " + fmt.Sprintf(f, a...)})
	}
}

func (g gnetLogger) Debugf(f string, a ...any) { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Infof(f string, a ...any)  { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.log(slog.LevelWarn, f, a) }
func (g gnetLogger) Errorf(f string, a ...any) { g.log(slog.LevelError, f, a) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.log(slog.LevelError, f, a) }
