// Package cluster runs the nodes of one herd config in this process, over
// either I/O model: it builds each member (cache, peer links, herd.Node and
// the client-facing server), starts every server first so that a herd on
// port 0 learns each node's real address, then links every node to its
// neighbours. `herd up` runs all the nodes of a config, `herd serve` one;
// `herd-bench` runs the goroutine-per-connection baseline through the same
// code. Tests use it to stand up a herd on loopback.
package cluster

import (
	"context"
	"errors"
	"log/slog"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/peer"
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
	Share  int // servers in this process, sharing its fd limit
}

// NewServer builds the server of a node.
type NewServer func(node *herd.Node, cfg ServerConfig) Server

// Gnet is the NewServer of the gnet engine.
func Gnet(node *herd.Node, cfg ServerConfig) Server {
	return engine.New(node, engine.Config{Listen: cfg.Listen, Limits: cfg.Limits, Loops: cfg.Loops, Logger: cfg.Logger, FDShare: cfg.Share})
}

// Setup returns the options and logger of the node nc describes. Name,
// Cache and Flooder are filled in by Start when left unset.
type Setup func(nc herd.NodeConfig) (herd.NodeOptions, *slog.Logger, error)

// Member is one node running in this process.
type Member struct {
	Node   *herd.Node
	Links  *peer.Links
	Server Server
}

// Addr is the address the member's server listens on.
func (m *Member) Addr() string { return m.Server.Addr() }

// Stop stops the member's server, then flushes and closes its links.
func (m *Member) Stop(ctx context.Context) error {
	err := m.Server.Stop(ctx)
	m.Links.Close()
	return err
}

// Herd is the members of one config running in this process.
type Herd struct {
	Members []*Member
}

// Options are what Start needs besides the config and the node names.
type Options struct {
	Setup     Setup     // nil: nodes with no places backend and no log
	NewServer NewServer // nil: Gnet
	Loops     int
}

// Start starts the named nodes of cfg: every one listens first, then each
// links to its neighbours. A neighbour running in this process is dialled at
// its real address (so listen ports of 0 work); others at their configured
// address. On error the nodes already started are stopped.
func Start(cfg *herd.Config, names []string, o Options) (*Herd, error) {
	if o.NewServer == nil {
		o.NewServer = Gnet
	}
	h := &Herd{}
	fail := func(err error) (*Herd, error) {
		return nil, errors.Join(err, h.Stop(context.Background()))
	}
	local := map[string]string{}
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
		if opts.Cache == nil {
			opts.Cache = herd.NewCache()
		}
		if opts.MaxFuture == 0 {
			opts.MaxFuture = cfg.Limits.MaxFuture
		}
		links := peer.New(opts.Name, opts.Cache, cfg.Peers, logger)
		if opts.Flooder == nil {
			opts.Flooder = links
		}
		node := herd.NewNode(opts)
		m := &Member{Node: node, Links: links, Server: o.NewServer(node, ServerConfig{Listen: nc.Listen, Limits: cfg.Limits, Loops: o.Loops, Logger: logger, Share: len(names)})}
		if err := m.Server.Start(); err != nil {
			links.Close()
			return fail(err)
		}
		h.Members = append(h.Members, m)
		local[name] = m.Addr()
	}
	for _, m := range h.Members {
		var nbs []peer.Neighbor
		for _, nc := range cfg.Neighbors(m.Node.Name()) {
			addr := nc.Address
			if a, ok := local[nc.Name]; ok {
				addr = a
			}
			nbs = append(nbs, peer.Neighbor{Name: nc.Name, Address: addr})
		}
		m.Links.Connect(nbs)
	}
	return h, nil
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
