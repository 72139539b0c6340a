package node

import (
	"context"
	"errors"

	"github.com/herdnet/herd/config"
)

// Herd is several nodes of one config running in this process.
type Herd struct {
	Nodes []*Node
	// what Reload needs (reload.go)
	cfg   *config.Config
	local map[string]string // the addresses neighbours in this process dial
	topo  *topology
}

// StartHerd starts the named nodes of cfg: every one listens first (its
// client port, and its peer port when it has one), then each links to its
// neighbours. A neighbour running in this process whose configured port
// is 0 is dialled at its real address; others at their configured address
// (which may be a proxy in front of it). On error the nodes already
// started are stopped.
func StartHerd(cfg *config.Config, names []string, o Options) (*Herd, error) {
	h := &Herd{cfg: cfg, local: map[string]string{}, topo: newTopology(cfg)}
	for _, name := range names {
		n, err := build(cfg, name, o, len(names), h.topo)
		if err == nil {
			h.local[name], err = n.listen(h.topo)
		}
		if err != nil {
			return nil, errors.Join(err, h.Stop(context.Background()))
		}
		h.Nodes = append(h.Nodes, n)
	}
	for _, n := range h.Nodes {
		n.Links.Start(n.Node, neighbors(cfg, n.Name(), h.local))
	}
	for _, n := range h.Nodes {
		n.startPlaces() // every node listens by now
	}
	return h, nil
}

// Config is the config in force: the one StartHerd was given, as the last
// Reload left it (settings that need a restart keep their running values).
// Call it from the goroutine that calls Reload.
func (h *Herd) Config() *config.Config { return h.cfg }

// Node returns the running node called name, or nil.
func (h *Herd) Node(name string) *Node {
	for _, n := range h.Nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// Failed returns a channel that yields the error of the first node whose
// server stopped on its own (a gnet reactor that gave up); it never yields
// for servers that cannot fail so (the baseline) or after Stop.
func (h *Herd) Failed() <-chan error {
	ch := make(chan error, 1)
	for _, n := range h.Nodes {
		go func() {
			<-n.Done()
			if err := n.Err(); err != nil {
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
	errs := make(chan error, len(h.Nodes))
	for _, n := range h.Nodes {
		go func() { errs <- n.Stop(ctx) }()
	}
	var err error
	for range h.Nodes {
		err = errors.Join(err, <-errs)
	}
	return err
}
