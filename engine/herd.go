package engine

import (
	"context"
	"errors"
	"log/slog"

	"github.com/herdnet/herd/herd"
)

// Herd is a set of nodes of one config running in this process: all of
// them for `herd up`, one for `herd serve`.
type Herd struct {
	Servers []Runner
}

// Runner is a node on the network, whatever its I/O model: *Server here,
// and the goroutine-per-connection baseline in bench/baseline.
type Runner interface {
	Start() error
	Connect(neighbors []Neighbor)
	Stop(ctx context.Context) error
	Addr() string
	Node() *herd.Node
}

// NewRunner builds a node's server from its node and config; New is the
// gnet one.
type NewRunner func(node *herd.Node, cfg Config) Runner

// Gnet is the NewRunner of the gnet engine.
func Gnet(node *herd.Node, cfg Config) Runner { return New(node, cfg) }

// NodeSetup builds the node called nc.Name and its logger.
type NodeSetup func(nc herd.NodeConfig) (*herd.Node, *slog.Logger, error)

// StartHerd starts the named nodes of cfg: every one listens first, then
// each links to its neighbours. A neighbour running in this process is
// dialled at its real address (so listen ports of 0 work); others at their
// configured address. On error the nodes already started are stopped.
func StartHerd(cfg *herd.Config, names []string, setup NodeSetup, newRunner NewRunner, loops int) (*Herd, error) {
	if newRunner == nil {
		newRunner = Gnet
	}
	h := &Herd{}
	local := map[string]string{}
	for _, name := range names {
		nc, err := cfg.Node(name)
		if err != nil {
			return nil, errors.Join(err, h.Stop(context.Background()))
		}
		node, logger, err := setup(nc)
		if err != nil {
			return nil, errors.Join(err, h.Stop(context.Background()))
		}
		s := newRunner(node, Config{Listen: nc.Listen, Limits: cfg.Limits, Peers: cfg.Peers, Loops: loops, Logger: logger})
		if err := s.Start(); err != nil {
			return nil, errors.Join(err, h.Stop(context.Background()))
		}
		h.Servers = append(h.Servers, s)
		local[name] = s.Addr()
	}
	for _, s := range h.Servers {
		var nbs []Neighbor
		for _, nc := range cfg.Neighbors(s.Node().Name()) {
			addr := nc.Address
			if a, ok := local[nc.Name]; ok {
				addr = a
			}
			nbs = append(nbs, Neighbor{Name: nc.Name, Address: addr})
		}
		s.Connect(nbs)
	}
	return h, nil
}

// Server returns the running node called name, or nil.
func (h *Herd) Server(name string) Runner {
	for _, s := range h.Servers {
		if s.Node().Name() == name {
			return s
		}
	}
	return nil
}

// Stop stops every node, in parallel.
func (h *Herd) Stop(ctx context.Context) error {
	errs := make(chan error, len(h.Servers))
	for _, s := range h.Servers {
		go func() { errs <- s.Stop(ctx) }()
	}
	var err error
	for range h.Servers {
		err = errors.Join(err, <-errs)
	}
	return err
}
