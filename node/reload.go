package node

import (
	"fmt"
	"slices"

	"github.com/herdnet/herd/herd"
)

// Reload applies a new, validated config to the running nodes (SIGHUP)
// without dropping clients: each node's neighbour set (links to removed
// neighbours close, links to new ones start and reconcile, the rest are
// untouched) and the limits (see engine.Server.SetLimits). Settings that
// need a restart (a node's listen or admin address, peers.*, places.*) keep
// their running values; Reload lists them in its notes. A config that no
// longer defines a node running here is refused whole, and the old config
// stays. Call it from one goroutine at a time.
func (h *Herd) Reload(cfg *herd.Config) (notes []string, err error) {
	for _, n := range h.Nodes {
		if _, err := cfg.Node(n.Name()); err != nil {
			return nil, fmt.Errorf("node %s runs here but the new config does not define it (%w); keeping the old config", n.Name(), err)
		}
	}
	old := h.cfg
	// The limits fixed when a node starts keep their running values (the
	// engine and the node read them once): say so, and remember what is in force, so
	// that a later reload compares against it.
	next := *cfg
	cfg = &next
	for _, f := range []struct {
		name     string
		old, new any
		keep     func()
	}{
		{"max_conns", old.Limits.MaxConns, cfg.Limits.MaxConns, func() { cfg.Limits.MaxConns = old.Limits.MaxConns }},
		{"idle_timeout", old.Limits.IdleTimeout, cfg.Limits.IdleTimeout, func() { cfg.Limits.IdleTimeout = old.Limits.IdleTimeout }},
		{"line_timeout", old.Limits.LineTimeout, cfg.Limits.LineTimeout, func() { cfg.Limits.LineTimeout = old.Limits.LineTimeout }},
		{"write_timeout", old.Limits.WriteTimeout, cfg.Limits.WriteTimeout, func() { cfg.Limits.WriteTimeout = old.Limits.WriteTimeout }},
		// The node takes max_future when it is created (herd.NodeOptions).
		{"max_future", old.Limits.MaxFuture, cfg.Limits.MaxFuture, func() { cfg.Limits.MaxFuture = old.Limits.MaxFuture }},
	} {
		if f.old != f.new {
			notes = append(notes, fmt.Sprintf("limits.%s %v -> %v needs a restart (still %v)", f.name, f.old, f.new, f.old))
			f.keep()
		}
	}
	for _, n := range h.Nodes {
		name := n.Name()
		before, _ := old.Node(name)
		after, _ := cfg.Node(name)
		if before.Listen != after.Listen {
			notes = append(notes, fmt.Sprintf("%s: listen %s -> %s needs a restart", name, before.Listen, after.Listen))
		}
		if before.PeerListen != after.PeerListen {
			notes = append(notes, fmt.Sprintf("%s: peer_listen %q -> %q needs a restart", name, before.PeerListen, after.PeerListen))
		}
		if before.Admin != after.Admin {
			notes = append(notes, fmt.Sprintf("%s: admin %q -> %q needs a restart", name, before.Admin, after.Admin))
		}
		added, removed := n.Links.Update(neighbors(cfg, name, h.local))
		if len(added)+len(removed) > 0 {
			notes = append(notes, fmt.Sprintf("%s: neighbours added %v, removed %v", name, added, removed))
		}
		n.Server.SetLimits(cfg.Limits)
	}
	if old.Limits != cfg.Limits {
		notes = append(notes, fmt.Sprintf("limits now %+v", cfg.Limits))
	}
	if old.Peers != cfg.Peers {
		notes = append(notes, "peers settings need a restart")
		cfg.Peers = old.Peers // what stays in force
	}
	if old.Security != cfg.Security {
		notes = append(notes, "security settings need a restart")
		cfg.Security = old.Security // what stays in force
	}
	if !slices.Equal(old.Names(), cfg.Names()) {
		notes = append(notes, "the set of nodes changed: restart the nodes so they accept AT lines from the new origins")
	}
	if old.Places != cfg.Places {
		notes = append(notes, "places settings need a restart")
		cfg.Places = old.Places // what stays in force
	}
	if old.Persistence != cfg.Persistence {
		notes = append(notes, "persistence settings need a restart")
		cfg.Persistence = old.Persistence // what stays in force
	}
	h.topo.mu.Lock()
	h.topo.cfg = cfg
	h.topo.mu.Unlock()
	h.cfg = cfg
	slices.Sort(notes)
	return notes, nil
}
