package node

import (
	"net"
	"sync"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/snapshot"
)

// adminNode is what the node's admin port reads of it. The port opens
// before the node is assembled (build): until it is, it reports the
// configured address and no clients, links, counters or snapshot writes.
func (n *Node) adminNode(herdTopology func() admin.Topology) admin.Node {
	an := admin.Node{
		Name: n.nc.Name,
		Listen: func() string {
			if !n.built.Load() {
				return n.nc.Listen
			}
			return n.Addr()
		},
		Clients: func() int {
			if !n.built.Load() {
				return 0
			}
			return n.Node.Cache().Len()
		},
		Links: func() []peer.LinkStats {
			if !n.built.Load() {
				return nil
			}
			return n.Links.Stats()
		},
		Engine: func() engine.Stats {
			if !n.built.Load() {
				return engine.Stats{}
			}
			return n.Server.Stats()
		},
		Herd:    herdTopology,
		Health:  n.Health,
		Metrics: n.Metrics,
		Token:   n.adminToken,
	}
	if n.hasDataDir {
		an.Snapshot = func() snapshot.Status {
			if !n.built.Load() || n.Snapshot == nil {
				return snapshot.Status{}
			}
			return n.Snapshot.Status()
		}
	}
	return an
}

// topology is /herd: the config's nodes, with the real addresses of those
// running in this process (port 0 becomes the port picked).
type topology struct {
	cfg    *config.Config
	mu     sync.Mutex
	listen map[string]string // under mu
	admin  map[string]string // under mu
}

func newTopology(cfg *config.Config) *topology {
	return &topology{cfg: cfg, listen: map[string]string{}, admin: map[string]string{}}
}

func (t *topology) set(name, listen, adminAddr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if listen != "" {
		t.listen[name] = listen
	}
	if adminAddr != "" {
		t.admin[name] = adminAddr
	}
}

func (t *topology) get() admin.Topology {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := admin.Topology{Nodes: make([]admin.TopologyNode, 0, len(t.cfg.Nodes))}
	for _, nc := range t.cfg.Nodes {
		n := admin.TopologyNode{Name: nc.Name, Listen: nc.Listen, Admin: nc.Admin, Neighbors: []string{}}
		if a, ok := t.listen[nc.Name]; ok {
			n.Listen = a
		}
		if a, ok := t.admin[nc.Name]; ok {
			n.Admin = a
		}
		n.Admin = reachable(n.Admin, nc.Address)
		for _, nb := range t.cfg.Neighbors(nc.Name) {
			n.Neighbors = append(n.Neighbors, nb.Name)
		}
		out.Nodes = append(out.Nodes, n)
	}
	return out
}

// reachable replaces a wildcard admin host (0.0.0.0, ::) with the host
// neighbours dial the node at, so that a browser can reach it.
func reachable(adminAddr, address string) string {
	host, port, err := net.SplitHostPort(adminAddr)
	if err != nil || (host != "" && !net.ParseIP(host).IsUnspecified()) {
		return adminAddr
	}
	if h, _, err := net.SplitHostPort(address); err == nil && h != "" && !isUnspecified(h) {
		return net.JoinHostPort(h, port)
	}
	return adminAddr
}

func isUnspecified(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsUnspecified()
}
