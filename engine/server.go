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
)

// Config is what one node's server needs besides its herd.Node.
type Config struct {
	// Listen is the host:port to accept clients and peers on ("127.0.0.1:0"
	// picks a free port; Addr reports it).
	Listen string
	Limits herd.Limits
	Peers  herd.PeerConfig
	// Loops is the number of event loops; 0 means one per core.
	Loops int
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
}

// Neighbor is a node to link with. Address is host:port and is resolved
// again on every reconnect.
type Neighbor struct {
	Name    string
	Address string
}

// Server is one node on the network. Create it with New, then Start it;
// Stop shuts it down. Start, Stop, Addr and Links may be called from any
// goroutine.
type Server struct {
	gnet.BuiltinEventEngine

	node  *herd.Node
	cfg   Config
	log   *logq
	links *Links

	eng    gnet.Engine
	addr   string
	booted chan struct{}
	runErr chan error

	nextConn atomic.Uint64
	work     *workers

	ctx     context.Context // cancelled by Stop: ends links and workers
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine started here (wg.Go); Stop waits for them
	stopped atomic.Bool
}

// New returns a server for node; unset limits and peer settings take their
// defaults.
func New(node *herd.Node, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Limits, cfg.Peers = cfg.Limits.WithDefaults(), cfg.Peers.WithDefaults()
	s := &Server{
		node:   node,
		cfg:    cfg,
		log:    newLogq(cfg.Logger.With("node", node.Name())),
		booted: make(chan struct{}),
		runErr: make(chan error, 1),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.work = newWorkers(s, node.MaxInFlight())
	s.links = newLinks(node, cfg.Peers, s.log)
	node.SetFlooder(s.links)
	return s
}

// Start listens and starts the event loops. It returns once the node
// accepts connections, or with the listen error (for example, the port is in
// use). Connect starts the peer links.
func (s *Server) Start() error {
	go s.log.run()
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
	go func() { s.runErr <- gnet.Run(s, "tcp://"+s.cfg.Listen, opts...) }()
	select {
	case <-s.booted:
	case err := <-s.runErr:
		s.log.close()
		return fmt.Errorf("%s: listen on %s: %w", s.node.Name(), s.cfg.Listen, err)
	}
	s.log.send(logEvent{level: slog.LevelInfo, msg: "node started", remote: s.addr})
	s.work.start()
	return nil
}

// Connect starts one outbound link per neighbour. Call it once, after Start
// (so that a herd in one process can learn every node's real port first).
func (s *Server) Connect(neighbors []Neighbor) { s.links.Connect(neighbors) }

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
// connections after flushing their pending replies, flushes and closes the
// peer links, and waits for every goroutine it started. ctx bounds the wait.
func (s *Server) Stop(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	err := s.eng.Stop(ctx)
	if err == nil {
		err = <-s.runErr
	}
	s.cancel()
	s.links.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
	s.log.send(logEvent{level: slog.LevelInfo, msg: "node stopped"})
	s.log.close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Links reports the state of every outbound peer link.
func (s *Server) Links() []LinkStatus { return s.links.Status() }

// gnetLogger sends gnet's own messages, which it may write from an event
// loop, through the node's non-blocking log queue.
type gnetLogger struct{ q *logq }

func (g gnetLogger) log(level slog.Level, f string, a []any) {
	if g.q.log.Enabled(context.Background(), level) {
		g.q.send(logEvent{level: level, msg: "gnet: " + fmt.Sprintf(f, a...)})
	}
}

func (g gnetLogger) Debugf(f string, a ...any) { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Infof(f string, a ...any)  { g.log(slog.LevelDebug, f, a) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.log(slog.LevelWarn, f, a) }
func (g gnetLogger) Errorf(f string, a ...any) { g.log(slog.LevelError, f, a) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.log(slog.LevelError, f, a) }
