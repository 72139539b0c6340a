package node

import (
	"fmt"
	"slices"
	"strings"

	"github.com/herdnet/herd/config"
)

// Reload applies a new, validated config to the running nodes (SIGHUP)
// without dropping clients: each node's neighbour set (links to removed
// neighbours close, links to new ones start and reconcile, the rest are
// untouched) and the engine's limits (see engine.Server.SetLimits). The
// settings read only at start (engine.Limits.WithFixed, limits.max_future,
// a node's listen, peer_listen and admin addresses, and the peers, security,
// places and persistence sections) keep their running values; Reload lists
// them in its notes. A config that no longer defines a node running here
// is refused whole, and the old config stays. Call it from one goroutine
// at a time.
func (h *Herd) Reload(cfg *config.Config) (notes []string, err error) {
	for _, n := range h.Nodes {
		if _, err := cfg.Node(n.Name()); err != nil {
			return nil, fmt.Errorf("node %s runs here but the new config does not define it (%w); keeping the old config", n.Name(), err)
		}
	}
	old := h.cfg
	// What needs a restart keeps its running value: say so, and remember
	// what is in force, so that a later reload compares against it.
	next := *cfg
	cfg = &next
	restart := func(prefix string, running, asked any) {
		for _, c := range config.Changes(prefix, running, asked) {
			notes = append(notes, c+" needs a restart")
		}
	}
	live := cfg.Limits.Limits.WithFixed(old.Limits.Limits)
	restart("limits", live, cfg.Limits.Limits)
	cfg.Limits.Limits = live
	// The node takes max_future when it is created (herd.NodeOptions).
	restart("limits", config.Limits{MaxFuture: old.Limits.MaxFuture}, config.Limits{MaxFuture: cfg.Limits.MaxFuture})
	cfg.Limits.MaxFuture = old.Limits.MaxFuture
	for _, c := range config.Changes("limits", old.Limits, cfg.Limits) {
		notes = append(notes, c+" applied")
	}
	for _, s := range []struct {
		name     string
		old, new any
		keep     func()
	}{
		{"peers", old.Peers, cfg.Peers, func() { cfg.Peers = old.Peers }},
		{"security", old.Security, cfg.Security, func() { cfg.Security = old.Security }},
		{"places", old.Places, cfg.Places, func() { cfg.Places = old.Places }},
		{"persistence", old.Persistence, cfg.Persistence, func() { cfg.Persistence = old.Persistence }},
	} {
		if c := config.Changes(s.name, s.old, s.new); len(c) > 0 {
			notes = append(notes, fmt.Sprintf("%s settings need a restart: %s", s.name, strings.Join(c, ", ")))
			s.keep()
		}
	}
	if !slices.Equal(old.Names(), cfg.Names()) {
		notes = append(notes, "the set of nodes changed: restart the nodes so they accept AT lines from the new origins")
	}
	for _, n := range h.Nodes {
		name := n.Name()
		before, _ := old.Node(name)
		after, _ := cfg.Node(name)
		restart("nodes."+name, ports(before), ports(after))
		added, removed := n.Links.Update(neighbors(cfg, name, h.local))
		if len(added)+len(removed) > 0 {
			notes = append(notes, fmt.Sprintf("%s: neighbours added %v, removed %v", name, added, removed))
		}
		n.Server.SetLimits(cfg.Limits.Limits)
	}
	h.topo.mu.Lock()
	h.topo.cfg = cfg
	h.topo.mu.Unlock()
	h.cfg = cfg
	slices.Sort(notes)
	return notes, nil
}

// bound are the addresses a node binds, which a reload cannot move.
type bound struct {
	Listen     string `yaml:"listen"`
	PeerListen string `yaml:"peer_listen"`
	Admin      string `yaml:"admin"`
}

func ports(n config.Node) bound { return bound{n.Listen, n.PeerListen, n.Admin} }
