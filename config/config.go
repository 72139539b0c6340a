// Package config is a herd's config file: the topology (each node's name,
// addresses and neighbours) and the settings of every layer, each section
// mapping onto the type of the package that owns it (limits onto
// engine.Limits, peers onto peer.Settings). Parse and Load fill in the
// defaults those packages define and validate the result, naming the bad
// key. The default five-node herd is embedded.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/snapshot"
)

// DefaultYAML is the default five-node herd, embedded in the binary.
// `herd up` runs it when no --config is given.
//
//go:embed default.yaml
var DefaultYAML []byte

// Config is a herd's topology and every node's settings: the file given with
// --config. Get it from Parse or Load, which validate it; treat it as frozen
// afterwards.
type Config struct {
	Nodes  []Node        `yaml:"nodes"`
	Limits Limits        `yaml:"limits"`
	Peers  peer.Settings `yaml:"peers"`
	Places Places        `yaml:"places"`
	// Security guards the links between nodes.
	Security Security `yaml:"security"`
	// Persistence tunes the snapshots a node writes with --data-dir.
	Persistence Persistence `yaml:"persistence"`
}

// Limits is the limits section: the engine's limits, and two that other
// layers apply. A zero field takes its default.
type Limits struct {
	engine.Limits `yaml:",inline"`
	// ShutdownTimeout bounds a graceful drain on SIGTERM; default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxFuture is how far ahead of the origin's clock an IAMAT's time may
	// be; a later one is refused with "? line" (herd.NodeOptions.MaxFuture).
	MaxFuture time.Duration `yaml:"max_future"`
}

// DefaultShutdownTimeout is limits.shutdown_timeout's default.
const DefaultShutdownTimeout = 10 * time.Second

// Persistence tunes a node's snapshots of its cache (package snapshot).
// They are written only when the node runs with --data-dir.
type Persistence struct {
	// SnapshotInterval is the time between snapshots; one is also written
	// on a graceful stop. A SIGKILL loses what arrived since the last one.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
}

// Node is one node of the herd as the config describes it: its name, where
// it listens and is reached, and its neighbours. (A running node is a
// node.Node; its command logic a herd.Node.)
type Node struct {
	// Name is the node's name: the origin field of its AT lines.
	Name string `yaml:"name"`
	// Listen is the host:port the node accepts clients and peers on.
	Listen string `yaml:"listen"`
	// Address is the host:port neighbours dial to reach this node; it
	// defaults to Listen. Set it when Listen is a wildcard such as
	// 0.0.0.0:12720. Names are resolved again on every reconnect.
	Address string `yaml:"address"`
	// Neighbors are the nodes this one links with. A link listed on either
	// side is two-way.
	Neighbors []string `yaml:"neighbors"`
	// Admin is the host:port of the node's admin HTTP port (metrics,
	// health checks, status, the herd page); "" for none. Never the
	// client port.
	Admin string `yaml:"admin"`
	// PeerListen, when set, is a host:port for links from neighbours only:
	// neighbours dial it (with Address's host when its host is a wildcard)
	// and the client port refuses AT and PEER lines.
	PeerListen string `yaml:"peer_listen"`
}

// PeerAddress is the host:port neighbours dial to link with n: its peer
// port when it has one, else Address.
func (n Node) PeerAddress() string {
	if n.PeerListen == "" {
		return n.Address
	}
	host, port, _ := net.SplitHostPort(n.PeerListen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host, _, _ = net.SplitHostPort(n.Address)
	}
	return net.JoinHostPort(host, port)
}

// Security is the herd's protection against forged updates.
type Security struct {
	// Secret is shared by every node; links prove they know it with an
	// HMAC challenge-response (it never crosses the wire). HERD_SECRET
	// overrides it. Empty: the assignment's open herd, where any client may
	// send AT lines.
	Secret string `yaml:"secret"`
	// TLS, when its files are set, puts mutual TLS on every peer port (every
	// node then needs peer_listen).
	TLS TLSFiles `yaml:"tls"`
	// AdminToken, when set, is required ("Authorization: Bearer TOKEN") by
	// every admin endpoint but /livez and /readyz. HERD_ADMIN_TOKEN
	// overrides it.
	AdminToken string `yaml:"admin_token"`
}

// TLSFiles are PEM files: this node's certificate and key, and the CA that
// signs every node's certificate. A certificate names its node in a SAN DNS
// name or its CN.
type TLSFiles struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	CA   string `yaml:"ca"`
}

// Enabled reports whether any TLS file is set.
func (t TLSFiles) Enabled() bool { return t.Cert != "" || t.Key != "" || t.CA != "" }

// Places chooses the backend that answers WHATSAT.
type Places struct {
	// Backend is geonames (offline, embedded; the default), google (legacy
	// Nearby Search) or google-new (Places API (New)).
	Backend string `yaml:"backend"`
	// URL overrides the Google backends' base URL.
	URL string `yaml:"url"`
	// Key is the Google API key; HERD_PLACES_KEY overrides it.
	Key string `yaml:"key"`
	// Data is a GeoNames dump to load instead of the embedded cities500.
	Data string `yaml:"data"`
	// Timeout bounds one backend call.
	Timeout time.Duration `yaml:"timeout"`
	// MaxInFlight bounds the backend calls one node runs at once.
	MaxInFlight int `yaml:"max_in_flight"`
}

// ProviderConfig is the places.Config these settings select: the one
// conversion from a herd config to a backend (places/provider.New builds
// it). Unset fields keep places.DefaultConfig's values.
func (p Places) ProviderConfig() places.Config {
	pc := places.DefaultConfig()
	if p.Backend != "" {
		pc.Backend = p.Backend
	}
	pc.BaseURL, pc.Key, pc.DataFile = p.URL, p.Key, p.Data
	if p.Timeout > 0 {
		pc.Timeout = p.Timeout
	}
	return pc
}

// defaults fills every unset setting with the default of the package
// that owns it.
func (c *Config) defaults() {
	node := herd.DefaultNodeOptions()
	c.Limits.Limits = c.Limits.Limits.WithDefaults()
	setDefault(&c.Limits.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&c.Limits.MaxFuture, node.MaxFuture)
	c.Peers = c.Peers.WithDefaults()
	setDefault(&c.Places.Backend, places.DefaultConfig().Backend)
	setDefault(&c.Places.Timeout, node.PlacesTimeout)
	setDefault(&c.Places.MaxInFlight, node.MaxInFlight)
	setDefault(&c.Persistence.SnapshotInterval, snapshot.DefaultInterval)
	for i := range c.Nodes {
		setDefault(&c.Nodes[i].Address, c.Nodes[i].Listen)
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// SecretEnv names the environment variable that overrides
// security.secret (the CLI reads it).
const SecretEnv = "HERD_SECRET"

// AdminTokenEnv names the environment variable that overrides
// security.admin_token (the CLI reads it).
const AdminTokenEnv = "HERD_ADMIN_TOKEN"

// Names returns the names of the herd's nodes, in config order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name
	}
	return names
}

// ErrUnknownNode is returned by Node for a name the config does not define.
var ErrUnknownNode = errors.New("unknown node")

// Node returns the settings of the node called name.
func (c *Config) Node(name string) (Node, error) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("%w %q (the config defines %v)", ErrUnknownNode, name, c.Names())
}

// Neighbors returns the nodes linked with name, in config order: those it
// lists and those that list it.
func (c *Config) Neighbors(name string) []Node {
	var out []Node
	var self Node
	for _, n := range c.Nodes {
		if n.Name == name {
			self = n
		}
	}
	for _, n := range c.Nodes {
		if n.Name != name && (slices.Contains(self.Neighbors, n.Name) || slices.Contains(n.Neighbors, name)) {
			out = append(out, n)
		}
	}
	return out
}
