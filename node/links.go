package node

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/peer"
)

// neighbors lists the neighbours of the node called name, at the address
// its links dial (the peer port when it has one).
func neighbors(cfg *config.Config, name string, local map[string]string) []peer.Neighbor {
	var nbs []peer.Neighbor
	for _, nc := range cfg.Neighbors(name) {
		// A neighbour in this process whose configured port is 0 is dialled
		// at its real address; others at their configured one (which may
		// be a proxy in front of it).
		addr := nc.PeerAddress()
		if a, ok := local[nc.Name]; ok && strings.HasSuffix(addr, ":0") {
			addr = a
		}
		nbs = append(nbs, peer.Neighbor{Name: nc.Name, Address: addr})
	}
	return nbs
}

// peerConfig is the peer-link configuration of node nc: the herd secret
// and its TLS identity (a "{name}" in the file names of
// security.tls is replaced by the node's name).
func peerConfig(cfg *config.Config, nc config.Node, logger *slog.Logger) (peer.Config, error) {
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
