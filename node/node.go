// Package node assembles and runs the nodes of one herd config in this process, over
// either I/O model: it builds each member (cache, peer links, herd.Node and
// the client-facing server), starts every server first so that a herd on
// port 0 learns each node's real address, then links every node to its
// neighbours. With a data directory, each node first loads its snapshot
// (package snapshot) into its cache, then writes one every interval and when
// it stops. `herd up` runs all the nodes of a config, `herd serve` one;
// `herd-bench` runs the goroutine-per-connection baseline through the same
// code. Tests use it to stand up a herd on loopback. With Options.Admin each
// node also gets its admin port (package admin), started before the client
// port so /livez answers while the node starts.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/snapshot"
)

// Server is a node's client-facing server, whatever its I/O model:
// *engine.Server, or the goroutine-per-connection baseline of bench.
type Server interface {
	Start() error
	Stop(ctx context.Context) error
	Addr() string
}

// ServerConfig is what every I/O model needs besides its node.
type ServerConfig struct {
	Listen string // host:port; port 0 picks a free port
	Limits herd.Limits
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
type Setup func(nc herd.Member) (herd.NodeOptions, *slog.Logger, error)

// Member is one node running in this process.
type Member struct {
	Node   *herd.Node
	Links  *peer.Links
	Server Server
	// Health is the node's readiness for /readyz. A step that must finish
	// before the node takes traffic calls Health.Hold(reason) and releases
	// it when done. (The snapshot is loaded before the admin port opens, so
	// it holds nothing.)
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
}

// AdminAddr is the address of the member's admin port, "" for none.
func (m *Member) AdminAddr() string {
	if m.Admin == nil {
		return ""
	}
	return m.Admin.Addr()
}

// Addr is the address the member's server listens on.
func (m *Member) Addr() string { return m.Server.Addr() }

// Stop stops the member's server, then flushes and closes its links, then
// writes its last snapshot (the cache no longer changes by then).
func (m *Member) Stop(ctx context.Context) error {
	m.Health.SetDraining() // /readyz says 503 before the port closes
	err := m.Server.Stop(ctx)
	// Closing the links flushes what is queued for each neighbour; one
	// that stops reading could hold that for its write timeout, so the
	// wait is bounded by ctx too (inbound links are closed at once, so the
	// cache no longer changes and the snapshot below can be written while
	// a flush finishes).
	closed := make(chan struct{})
	go func() { m.Links.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("%s: peer links still flushing: %w", m.Node.Name(), ctx.Err()))
	}
	if m.Admin != nil {
		err = errors.Join(err, m.Admin.Stop(ctx))
	}
	if m.Snapshot != nil {
		err = errors.Join(err, m.Snapshot.Close())
	}
	return err
}

// Herd is the members of one config running in this process.
type Herd struct {
	Members []*Member
	// what Reload needs (reload.go)
	cfg   *herd.Config
	local map[string]string // real client addresses of the members
	topo  *topology
}

// Options are what Start needs besides the config and the node names.
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

// Start starts the named nodes of cfg: every one listens first (its client
// port, and its peer port when it has one), then each links to its
// neighbours. A neighbour running in this process whose configured port
// is 0 is dialled at its real address; others at their configured address
// (which may be a proxy in front of it). On
// error the nodes already started are stopped.
func Start(cfg *herd.Config, names []string, o Options) (*Herd, error) {
	if o.NewServer == nil {
		o.NewServer = Gnet
	}
	h := &Herd{cfg: cfg}
	fail := func(err error) (*Herd, error) {
		return nil, errors.Join(err, h.Stop(context.Background()))
	}
	local := map[string]string{}
	topo := &topology{cfg: cfg, listen: map[string]string{}, admin: map[string]string{}}
	for _, name := range names {
		nc, err := cfg.Node(name)
		if err != nil {
			return fail(err)
		}
		var opts herd.NodeOptions
		var logger *slog.Logger
		if o.Setup != nil {
			if opts, logger, err = o.Setup(nc); err != nil {
				return fail(err)
			}
		}
		if opts.Name == "" {
			opts.Name = nc.Name
		}
		store, restored, err := restore(cfg, nc.Name, &opts, logger, o)
		if err != nil {
			return fail(err)
		}
		if opts.Cache == nil {
			opts.Cache = herd.NewCache()
		}
		if opts.MaxFuture == 0 {
			opts.MaxFuture = cfg.Limits.MaxFuture
		}
		pc, err := peerConfig(cfg, nc, logger)
		if err != nil {
			return fail(err)
		}
		pc.Cache = opts.Cache
		links := peer.New(pc)
		if opts.Flooder == nil {
			opts.Flooder = links
		}
		if opts.Origins == nil {
			opts.Origins = cfg.Names()
		}
		opts.Secret = opts.Secret || cfg.Security.Secret != ""
		opts.PeerPort = opts.PeerPort || nc.PeerListen != ""
		metrics := admin.NewMetrics()
		opts.Places = metrics.Places(opts.Places)
		node := herd.NewNode(opts)
		if !opts.Secret {
			msg := "no herd secret (security.secret or HERD_SECRET): any client may send AT lines and forge locations"
			if opts.PeerPort {
				msg = "no herd secret (security.secret or HERD_SECRET): anyone who reaches the peer port may inject updates"
			}
			if cfg.Security.TLS.Enabled() {
				msg = ""
			}
			if msg != "" && logger != nil {
				logger.Warn(msg, "node", opts.Name)
			}
		}
		sc := ServerConfig{Listen: nc.Listen, Limits: cfg.Limits, Loops: o.Loops, Logger: logger, HandOff: links.Accept, Share: len(names)}
		m := &Member{Node: node, Links: links, Health: &admin.Health{}, Metrics: metrics, Snapshot: store, Restored: restored,
			Server: o.NewServer(node, sc)}
		closeAll := func() {
			links.Close()
			if m.Admin != nil {
				_ = m.Admin.Stop(context.Background())
			}
			if store != nil {
				store.Close() // not started: writes nothing
			}
		}
		// The snapshot is loaded by now, so /readyz turns 200 only once the
		// node has its view back and listens.
		if o.Admin && nc.Admin != "" {
			m.Admin = admin.New(m.adminNode(topo.get), logger)
			if err := m.Admin.Start(nc.Admin); err != nil {
				m.Admin = nil
				closeAll()
				return fail(err)
			}
			topo.set(name, "", m.Admin.Addr())
		}
		peerAddr := ""
		if nc.PeerListen != "" {
			if peerAddr, err = links.Listen(nc.PeerListen); err != nil {
				closeAll()
				return fail(fmt.Errorf("%s: peer port: %w", name, err))
			}
		}
		if err := m.Server.Start(); err != nil {
			closeAll()
			return fail(err)
		}
		if store != nil {
			store.Start(snapshot.Lines(opts.Cache))
		}
		m.Health.SetListening()
		h.Members = append(h.Members, m)
		local[name] = m.Addr()
		topo.set(name, m.Addr(), "")
		if peerAddr != "" {
			local[name] = peerAddr
		}
	}
	h.local, h.topo = local, topo
	for _, m := range h.Members {
		m.Links.Start(m.Node, neighbors(cfg, m.Node.Name(), local))
	}
	return h, nil
}

// restore opens the data directory of the node called name, if it has one,
// and loads its snapshot into opts.Cache, which it sets.
func restore(cfg *herd.Config, name string, opts *herd.NodeOptions, logger *slog.Logger, o Options) (*snapshot.Store, snapshot.Restored, error) {
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

// peerConfig is the peer-link configuration of node nc: the herd secret
// and its TLS identity (a "{name}" in the file names of
// security.tls is replaced by the node's name).
func peerConfig(cfg *herd.Config, nc herd.Member, logger *slog.Logger) (peer.Config, error) {
	pc := peer.Config{Name: nc.Name, Peers: cfg.Peers, Secret: []byte(cfg.Security.Secret), Logger: logger}
	if t := cfg.Security.TLS; t.Enabled() {
		expand := func(s string) string { return strings.ReplaceAll(s, "{name}", nc.Name) }
		id, err := peer.LoadTLS(expand(t.Cert), expand(t.Key), expand(t.CA))
		if err != nil {
			return pc, fmt.Errorf("%s: %w", nc.Name, err)
		}
		pc.TLS = id
	}
	return pc, nil
}

// Member returns the running node called name, or nil.
func (h *Herd) Member(name string) *Member {
	for _, m := range h.Members {
		if m.Node.Name() == name {
			return m
		}
	}
	return nil
}

// Failed returns a channel that yields the error of the first member whose
// server stopped on its own (a gnet reactor that gave up); it never yields
// for servers that cannot say (the baseline) or after Stop.
func (h *Herd) Failed() <-chan error {
	ch := make(chan error, 1)
	for _, m := range h.Members {
		d, ok := m.Server.(interface {
			Done() <-chan struct{}
			Err() error
		})
		if !ok {
			continue
		}
		go func() {
			<-d.Done()
			if err := d.Err(); err != nil {
				select {
				case ch <- err:
				default:
				}
			}
		}()
	}
	return ch
}

// Stop stops every node, in parallel.
func (h *Herd) Stop(ctx context.Context) error {
	errs := make(chan error, len(h.Members))
	for _, m := range h.Members {
		go func() { errs <- m.Stop(ctx) }()
	}
	var err error
	for range h.Members {
		err = errors.Join(err, <-errs)
	}
	return err
}
