// Package node is where a node is assembled and run: its cache (loaded
// from its snapshot when it has a data directory), its peer links, its
// herd.Node, its client-facing server (the gnet engine, or any Server the
// caller hands in, such as bench's goroutine-per-connection baseline) and
// its admin port (package admin), started before the client port so that
// /livez answers while the node starts.
//
// Start runs one node of a herd config; StartHerd runs several in this
// process (`herd up`, herd-bench and the multi-node tests): every node
// listens first, so that a herd on port 0 learns each node's real
// address, then each links to its neighbours. With a data directory a node
// writes its snapshot every interval and when it stops.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/snapshot"
)

// Server is a node's client-facing server, whatever its I/O model:
// *engine.Server, or the goroutine-per-connection baseline of bench (whose
// Stats and SetLimits do nothing). Start, Stop and Addr are as
// engine.Server documents them; every method may be called from any
// goroutine.
type Server interface {
	Start() error
	Stop(ctx context.Context) error
	// Addr is the address the server listens on, with the real port.
	Addr() string
	// Done is closed when the server stopped: after Stop, or on its own
	// (then Err says why).
	Done() <-chan struct{}
	// Err is why the server stopped on its own; nil otherwise.
	Err() error
	// Stats are the server's counters for the admin port.
	Stats() engine.Stats
	// SetLimits replaces the limits while the server runs (reload).
	SetLimits(engine.Limits)
}

var _ Server = (*engine.Server)(nil)

// ServerConfig is what every I/O model needs besides its node.
type ServerConfig struct {
	Listen string // host:port; port 0 picks a free port
	Limits engine.Limits
	Loops  int // event loops of the gnet engine; 0: one per core
	Logger *slog.Logger
	// HandOff takes over a connection that opened with a neighbour's PEER
	// handshake (the node's peer links); nil: such lines get "? line".
	HandOff func(conn net.Conn, head []byte)
	Share   int // servers in this process, sharing its fd limit
}

// NewServer builds the server of a node.
type NewServer func(node *herd.Node, cfg ServerConfig) Server

// Gnet is the NewServer of the gnet engine.
func Gnet(node *herd.Node, cfg ServerConfig) Server {
	return engine.New(node, engine.Config{Listen: cfg.Listen, Limits: cfg.Limits, Loops: cfg.Loops, Logger: cfg.Logger, HandOff: cfg.HandOff, FDShare: cfg.Share})
}

// Setup returns the options and logger of the node nc describes. Name,
// Cache and Flooder are filled in by Start when left unset, and so are the
// security settings (Origins, Secret, PeerPort) from the config.
type Setup func(nc config.Node) (herd.NodeOptions, *slog.Logger, error)

// Options are what starting a node needs besides the config and its name.
type Options struct {
	Setup     Setup     // nil: nodes with no places backend and no log
	NewServer NewServer // nil: Gnet
	Loops     int
	// Admin starts the admin port of every node that has an admin address
	// in the config (herd up and serve set it; most tests do not).
	Admin bool
	// DataDir returns the data directory of the node called name, where it
	// keeps its snapshot; nil, or "" for a node: no snapshots.
	DataDir func(name string) string
	// Restored, when set, is called once a node's snapshot load finished
	// (whatever it found: a snapshot, none, or one it rejected), before the
	// node listens, on the goroutine that called Start. A readiness probe
	// can count on it; every node has been restored when Start returns.
	Restored func(name string, r snapshot.Restored)
}

// Config says which node of which herd Start runs, and how.
type Config struct {
	Herd *config.Config // validated
	Name string         // one of Herd's nodes
	Options
}

// Node is one node running in this process: what Start assembled.
type Node struct {
	// Node is the node's command logic (cache, flooding, WHATSAT).
	Node   *herd.Node
	Links  *peer.Links
	Server Server
	// Health is the node's readiness for /readyz. A step that must finish
	// before the node takes traffic calls Health.Hold(reason) and releases
	// it when done: the snapshot load, and a places backend that gets
	// ready in the background.
	Health *admin.Health
	// Metrics is the node's own metrics Set.
	Metrics *admin.Metrics
	// Admin is the node's admin port, nil without Options.Admin or an
	// admin address in the config.
	Admin *admin.Server
	// Snapshot writes the node's snapshot every interval and on Stop; nil
	// when the node has no data directory.
	Snapshot *snapshot.Store
	// Restored is what loading the snapshot found, before the node
	// listened; zero when the node has no data directory.
	Restored snapshot.Restored

	nc         config.Node // the node's entry in the config
	opts       herd.NodeOptions
	log        *slog.Logger // Setup's; nil: none
	adminToken string       // security.admin_token
	hasDataDir bool         // keeps a snapshot
	built      atomic.Bool  // set once Node, Links and Server are: the admin port starts before
	// backend is Setup's places backend, before the metrics wrap it.
	backend places.Provider
}

// Start starts the node cfg names: it listens (its admin port, its peer
// port when it has one, its client port), then links to its neighbours at
// their configured addresses. On error what was started is stopped.
func Start(cfg Config) (*Node, error) {
	topo := newTopology(cfg.Herd)
	n, err := build(cfg.Herd, cfg.Name, cfg.Options, 1, topo)
	if err != nil {
		return nil, err
	}
	peerAddr, err := n.listen(topo)
	if err != nil {
		return nil, err
	}
	local := map[string]string{cfg.Name: peerAddr}
	n.Links.Start(n.Node, neighbors(cfg.Herd, cfg.Name, local))
	n.startPlaces()
	return n, nil
}

// build assembles the node of cfg called name, which will share the
// process's descriptors with share-1 others. Only its admin port listens
// yet (with o.Admin and an admin address): /livez answers from the start,
// and /readyz says 503 while the snapshot loads, and until the places
// backend is ready.
func build(cfg *config.Config, name string, o Options, share int, topo *topology) (n *Node, err error) {
	if o.NewServer == nil {
		o.NewServer = Gnet
	}
	nc, err := cfg.Node(name)
	if err != nil {
		return nil, err
	}
	var opts herd.NodeOptions
	var logger *slog.Logger
	if o.Setup != nil {
		if opts, logger, err = o.Setup(nc); err != nil {
			return nil, err
		}
	}
	if opts.Name == "" {
		opts.Name = nc.Name
	}
	n = &Node{Health: &admin.Health{}, Metrics: admin.NewMetrics(), nc: nc, log: logger, adminToken: cfg.Security.AdminToken,
		hasDataDir: o.DataDir != nil && o.DataDir(nc.Name) != ""}
	if o.Admin && nc.Admin != "" {
		if err := n.startAdmin(topo); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				_ = n.Admin.Stop(context.Background())
			}
		}()
	}
	n.backend = opts.Places
	holdUntilReady(n.Health, opts.Places, logger, nc.Name)
	loaded := n.Health.Hold("snapshot loading")
	store, restored, err := restore(cfg, nc.Name, &opts, logger, o)
	if err != nil {
		return nil, err
	}
	loaded()
	pc, err := peerConfig(cfg, nc, logger)
	if err != nil {
		if store != nil {
			store.Close() // not started: writes nothing
		}
		return nil, err
	}
	if opts.Cache == nil {
		opts.Cache = herd.NewCache()
	}
	pc.Cache = opts.Cache
	links := peer.New(pc)
	if opts.Flooder == nil {
		opts.Flooder = links
	}
	nodeOptions(cfg, nc, &opts, logger)
	opts.Places = n.Metrics.Places(opts.Places)
	hn := herd.NewNode(opts)
	sc := ServerConfig{Listen: nc.Listen, Limits: cfg.Limits.Limits, Loops: o.Loops, Logger: logger, HandOff: links.Accept, Share: share}
	n.Node, n.Links, n.Snapshot, n.Restored, n.Server, n.opts = hn, links, store, restored, o.NewServer(hn, sc), opts
	n.built.Store(true) // the admin port may read them now
	return n, nil
}

// startPlaces starts what the node's places backend builds in the
// background (the offline index), once the node listens, so that building
// it does not delay listening.
func (n *Node) startPlaces() {
	if s, ok := n.backend.(interface{ Start() }); ok {
		s.Start()
	}
}

// holdUntilReady keeps h not ready while p, a places backend that gets
// ready in the background (the offline index: geonames.Pending), is not.
func holdUntilReady(h *admin.Health, p places.Provider, logger *slog.Logger, name string) {
	w, ok := p.(interface{ OnReady(func(error)) })
	if !ok {
		return
	}
	release := h.Hold("places index loading")
	w.OnReady(func(err error) {
		if err == nil {
			release()
		} else if logger != nil {
			logger.Error("places backend failed to load", "node", name, "err", err)
		}
	})
}

// nodeOptions fills in what the config says of the node's options: its
// clock limit and its security settings, and warns of a herd without a
// secret.
func nodeOptions(cfg *config.Config, nc config.Node, opts *herd.NodeOptions, logger *slog.Logger) {
	if opts.MaxFuture == 0 {
		opts.MaxFuture = cfg.Limits.MaxFuture
	}
	if opts.Origins == nil {
		opts.Origins = cfg.Names()
	}
	opts.Secret = opts.Secret || cfg.Security.Secret != ""
	opts.PeerPort = opts.PeerPort || nc.PeerListen != ""
	if opts.Secret || cfg.Security.TLS.Enabled() || logger == nil {
		return
	}
	msg := "no herd secret (security.secret or HERD_SECRET): any client may send AT lines and forge locations"
	if opts.PeerPort {
		msg = "no herd secret (security.secret or HERD_SECRET): anyone who reaches the peer port may inject updates"
	}
	logger.Warn(msg, "node", opts.Name)
}

// startAdmin opens the node's admin port, before the node is assembled.
func (n *Node) startAdmin(topo *topology) error {
	if admin.Exposed(n.nc.Admin) && n.adminToken == "" && n.log != nil {
		n.log.Warn("admin port not on loopback and no admin token (security.admin_token or "+config.AdminTokenEnv+
			"): anyone who reaches it can read the node's status and metrics", "node", n.nc.Name, "admin", n.nc.Admin)
	}
	a := admin.New(n.adminNode(topo.get), n.log)
	if err := a.Start(n.nc.Admin); err != nil {
		return err
	}
	n.Admin = a
	topo.set(n.nc.Name, "", a.Addr())
	return nil
}

// listen opens the node's peer port and its client port (the snapshot is
// loaded by now, so /readyz turns 200 only once the node has its view back
// and listens); then it starts writing snapshots. It returns the address
// neighbours in this process dial. On error it closes what it opened, the
// admin port (opened by build) included.
func (n *Node) listen(topo *topology) (dialAddr string, err error) {
	name := n.nc.Name
	defer func() {
		if err != nil {
			n.Links.Close()
			if n.Admin != nil {
				_ = n.Admin.Stop(context.Background())
				n.Admin = nil
			}
			if n.Snapshot != nil {
				n.Snapshot.Close() // not started: writes nothing
			}
		}
	}()
	peerAddr := ""
	if n.nc.PeerListen != "" {
		if peerAddr, err = n.Links.Listen(n.nc.PeerListen); err != nil {
			return "", fmt.Errorf("%s: peer port: %w", name, err)
		}
	}
	if err := n.Server.Start(); err != nil {
		return "", err
	}
	if n.Snapshot != nil {
		n.Snapshot.Start(snapshot.Lines(n.opts.Cache))
	}
	n.Health.SetListening()
	topo.set(name, n.Addr(), "")
	if peerAddr != "" {
		return peerAddr, nil
	}
	return n.Addr(), nil
}

// restore opens the data directory of the node called name, if it has one,
// and loads its snapshot into opts.Cache, which it sets.
func restore(cfg *config.Config, name string, opts *herd.NodeOptions, logger *slog.Logger, o Options) (*snapshot.Store, snapshot.Restored, error) {
	var r snapshot.Restored
	dir := ""
	if o.DataDir != nil {
		dir = o.DataDir(name)
	}
	if dir == "" {
		return nil, r, nil
	}
	if opts.Cache != nil {
		return nil, r, errors.New("node: a node with a data directory gets its cache from its snapshot; Setup must leave Cache nil")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	store, err := snapshot.Open(snapshot.Config{Dir: dir, Node: name, Interval: cfg.Persistence.SnapshotInterval, Logger: logger.With("node", name)})
	if err != nil {
		return nil, r, err
	}
	opts.Cache, r, err = store.Restore()
	if err != nil {
		store.Close() // not started: releases the directory, writes nothing
		return nil, r, err
	}
	if o.Restored != nil {
		o.Restored(name, r)
	}
	return store, r, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.Node.Name() }

// AdminAddr is the address of the node's admin port, "" for none.
func (n *Node) AdminAddr() string {
	if n.Admin == nil {
		return ""
	}
	return n.Admin.Addr()
}

// Addr is the address the node's client server listens on.
func (n *Node) Addr() string { return n.Server.Addr() }

// Done is closed when the node's server stopped: after Stop, or on its own
// (a gnet reactor that gave up; then Err says why, and the process should
// exit so that a supervisor restarts it). Any goroutine.
func (n *Node) Done() <-chan struct{} { return n.Server.Done() }

// Err is why the node's server stopped on its own; nil before Done is
// closed or after a Stop. Any goroutine.
func (n *Node) Err() error { return n.Server.Err() }

// Stop stops the node's server, then flushes and closes its links, then
// writes its last snapshot (the cache no longer changes by then).
func (n *Node) Stop(ctx context.Context) error {
	n.Health.SetDraining() // /readyz says 503 before the port closes
	err := n.Server.Stop(ctx)
	// Closing the links flushes what is queued for each neighbour; one
	// that reads slowly could hold that for long, so the flush is bounded
	// by ctx too: what is left is cut off, and nothing of the links
	// outlives Stop.
	if lerr := n.Links.Shutdown(ctx); lerr != nil {
		err = errors.Join(err, fmt.Errorf("%s: peer links cut off while flushing: %w", n.Node.Name(), lerr))
	}
	if n.Admin != nil {
		err = errors.Join(err, n.Admin.Stop(ctx))
	}
	if n.Snapshot != nil {
		err = errors.Join(err, n.Snapshot.Close())
	}
	return err
}
