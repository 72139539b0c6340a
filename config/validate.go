package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/herdnet/herd/places"
)

// Validate checks the topology and every section, naming the first bad
// field.
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.validateNodes, c.portClash, c.dialClash, c.validateSecurity, c.validateNeighbors,
		c.validateLimits, c.validatePeers, c.validatePersistence, c.validatePlaces,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateNodes checks each node's name and addresses.
func (c *Config) validateNodes() error {
	if len(c.Nodes) == 0 {
		return &FieldError{"nodes", "no nodes defined"}
	}
	names := make(map[string]int, len(c.Nodes))
	for i, n := range c.Nodes {
		f := "nodes[" + strconv.Itoa(i) + "]"
		if n.Name == "" {
			return &FieldError{f + ".name", "missing"}
		}
		if !validName(n.Name) {
			return &FieldError{f + ".name", fmt.Sprintf("%q must be non-empty printable ASCII without white space", n.Name)}
		}
		if j, dup := names[n.Name]; dup {
			return &FieldError{f + ".name", fmt.Sprintf("%q already used by nodes[%d]", n.Name, j)}
		}
		names[n.Name] = i
		if err := c.validateAddresses(i); err != nil {
			return err
		}
	}
	return nil
}

// validateAddresses checks the listen, address, admin and peer_listen
// addresses of nodes[i].
func (c *Config) validateAddresses(i int) error {
	n := c.Nodes[i]
	f := "nodes[" + strconv.Itoa(i) + "]"
	if n.Listen == "" {
		return &FieldError{f + ".listen", "missing"}
	}
	if err := checkHostPort(n.Listen); err != nil {
		return &FieldError{f + ".listen", err.Error()}
	}
	for j := range i {
		if sameListen(c.Nodes[j].Listen, n.Listen) && sameMachine(c.Nodes[j], n) {
			return &FieldError{f + ".listen", fmt.Sprintf("%q clashes with nodes[%d].listen %q", n.Listen, j, c.Nodes[j].Listen)}
		}
	}
	if err := checkHostPort(n.Address); err != nil {
		return &FieldError{f + ".address", err.Error()}
	}
	if n.Admin != "" {
		if err := checkHostPort(n.Admin); err != nil {
			return &FieldError{f + ".admin", err.Error()}
		}
		if n.Admin == n.Listen && !strings.HasSuffix(n.Admin, ":0") {
			return &FieldError{f + ".admin", "must differ from listen (the admin port is never the client port)"}
		}
	}
	if n.PeerListen != "" {
		if err := checkHostPort(n.PeerListen); err != nil {
			return &FieldError{f + ".peer_listen", err.Error()}
		}
	} else if c.Security.TLS.Enabled() {
		return &FieldError{f + ".peer_listen", "missing: security.tls needs a peer port on every node"}
	}
	return nil
}

// dialClash refuses two nodes on one peer address. Neighbours dial each
// node at its peer address (address, or peer_listen's port on address's
// host): two nodes on one address would make a node dial itself, or the
// wrong neighbour.
func (c *Config) dialClash() error {
	dial := make(map[string]int, len(c.Nodes))
	for i, n := range c.Nodes {
		a := strings.ToLower(n.PeerAddress())
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			continue
		}
		if j, dup := dial[a]; dup {
			field := ".address"
			if n.PeerListen != "" {
				field = ".peer_listen"
			}
			return &FieldError{fmt.Sprintf("nodes[%d]%s", i, field),
				fmt.Sprintf("neighbours would dial %q, as they dial nodes[%d] (%s)", n.PeerAddress(), j, c.Nodes[j].Name)}
		}
		dial[a] = i
	}
	return nil
}

// validateNeighbors checks that every neighbour is another node of the
// herd.
func (c *Config) validateNeighbors() error {
	names := make(map[string]bool, len(c.Nodes))
	for _, n := range c.Nodes {
		names[n.Name] = true
	}
	for i, n := range c.Nodes {
		for j, nb := range n.Neighbors {
			f := fmt.Sprintf("nodes[%d].neighbors[%d]", i, j)
			if !names[nb] {
				return &FieldError{f, fmt.Sprintf("unknown node %q", nb)}
			}
			if nb == n.Name {
				return &FieldError{f, "a node cannot be its own neighbour"}
			}
		}
	}
	return nil
}

func (c *Config) validateSecurity() error {
	if t := c.Security.TLS; t.Enabled() && (t.Cert == "" || t.Key == "" || t.CA == "") {
		return &FieldError{"security.tls", "needs cert, key and ca"}
	}
	return nil
}

func (c *Config) validateLimits() error {
	l := c.Limits
	switch {
	case l.MaxLine < 16 || l.MaxLine > 1<<20:
		return &FieldError{"limits.max_line", "must be between 16 and 1048576"}
	case l.MaxOutbound < 4096:
		return &FieldError{"limits.max_outbound", "must be at least 4096"}
	case l.MaxPending < 1:
		return &FieldError{"limits.max_pending", "must be positive"}
	case l.MaxPausedInbound < l.MaxLine:
		return &FieldError{"limits.max_paused_inbound", "must be at least limits.max_line"}
	case l.MaxConns < 0:
		return &FieldError{"limits.max_conns", "must not be negative (0: auto)"}
	case l.LineTimeout <= 0:
		return &FieldError{"limits.line_timeout", "must be positive"}
	case l.WriteTimeout <= 0:
		return &FieldError{"limits.write_timeout", "must be positive"}
	case l.ShutdownTimeout <= 0:
		return &FieldError{"limits.shutdown_timeout", "must be positive"}
	case l.MaxOutputTotal < l.MaxOutbound:
		return &FieldError{"limits.max_output_total", "must be at least limits.max_outbound"}
	case l.MaxFuture <= 0:
		return &FieldError{"limits.max_future", "must be positive"}
	}
	return nil
}

func (c *Config) validatePeers() error {
	p := c.Peers
	switch {
	case p.Heartbeat <= 0:
		return &FieldError{"peers.heartbeat", "must be positive"}
	case p.Timeout < 2*p.Heartbeat:
		return &FieldError{"peers.timeout", "must be at least twice peers.heartbeat"}
	case p.BackoffMin <= 0 || p.BackoffMax < p.BackoffMin:
		return &FieldError{"peers.backoff_max", "must be at least peers.backoff_min, both positive"}
	case p.DialTimeout <= 0:
		return &FieldError{"peers.dial_timeout", "must be positive"}
	case p.SyncInterval <= 0:
		return &FieldError{"peers.sync_interval", "must be positive"}
	}
	return nil
}

func (c *Config) validatePlaces() error {
	switch {
	case c.Places.Timeout <= 0:
		return &FieldError{"places.timeout", "must be positive"}
	case c.Places.MaxInFlight < 1:
		return &FieldError{"places.max_in_flight", "must be positive"}
	}
	switch c.Places.Backend {
	case places.BackendGeonames, places.BackendGoogle, places.BackendGoogleNew:
		return nil
	}
	return &FieldError{"places.backend", fmt.Sprintf("%q is not one of geonames, google, google-new", c.Places.Backend)}
}

func (c *Config) validatePersistence() error {
	if c.Persistence.SnapshotInterval < time.Millisecond {
		return &FieldError{"persistence.snapshot_interval", "must be at least 1ms"}
	}
	return nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// sameListen reports whether two valid listen addresses would bind the same
// port: the same port (not 0, which picks a free one) on the same host, or
// on a wildcard host.
func sameListen(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || wild(ha) || wild(hb)
}

// portClash names a node's listen, peer_listen or admin address that would
// bind a port another of the herd's addresses on the same machine binds too
// (say one node's admin port on another's client port): `herd up` would fail
// to start with "address already in use", so config check refuses it.
// Listen against listen is checked with the nodes themselves.
func (c *Config) portClash() error {
	type bind struct {
		node  int
		field string
		addr  string
	}
	var binds []bind
	for i, n := range c.Nodes {
		binds = append(binds, bind{i, "listen", n.Listen})
		if n.PeerListen != "" {
			binds = append(binds, bind{i, "peer_listen", n.PeerListen})
		}
		if n.Admin != "" {
			binds = append(binds, bind{i, "admin", n.Admin})
		}
	}
	for k, b := range binds {
		for _, a := range binds[:k] {
			if a.field == "listen" && b.field == "listen" {
				continue
			}
			if sameListen(a.addr, b.addr) && sameMachine(c.Nodes[a.node], c.Nodes[b.node]) {
				return &FieldError{fmt.Sprintf("nodes[%d].%s", b.node, b.field),
					fmt.Sprintf("%q clashes with nodes[%d].%s %q", b.addr, a.node, a.field, a.addr)}
			}
		}
	}
	return nil
}

// sameMachine reports whether two nodes may run on one machine: their
// advertised hosts (address, or listen when unset) are the same. Nodes
// advertised on different hosts may listen on the same port, even on the
// same wildcard address (a herd of machines, or of Kubernetes pods, each
// node on 0.0.0.0:12720).
func sameMachine(a, b Node) bool {
	host := func(n Node) string {
		addr := n.Address
		if addr == "" {
			addr = n.Listen
		}
		h, _, _ := net.SplitHostPort(addr)
		return strings.ToLower(h)
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	ha, hb := host(a), host(b)
	return ha == hb || wild(ha) || wild(hb)
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q has no valid port", s)
	}
	return nil
}
