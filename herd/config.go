package herd

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/places"
)

// DefaultConfigYAML is the default five-node herd of docs/PROTOCOL.md, embedded in
// the binary. `herd up` runs it when no --config is given.
//
//go:embed default.yaml
var DefaultConfigYAML []byte

// Config is a herd's topology and every node's settings: the file given with
// --config. Load it with ParseConfig or LoadConfig, which validate it; treat
// it as frozen afterwards.
type Config struct {
	Nodes  []Member     `yaml:"nodes"`
	Limits Limits       `yaml:"limits"`
	Peers  PeerConfig   `yaml:"peers"`
	Places PlacesConfig `yaml:"places"`
	// Security guards the links between nodes.
	Security Security `yaml:"security"`
	// Persistence tunes the snapshots a node writes with --data-dir.
	Persistence PersistenceConfig `yaml:"persistence"`
}

// PersistenceConfig tunes a node's snapshots of its cache (package snapshot).
// They are written only when the node runs with --data-dir.
type PersistenceConfig struct {
	// SnapshotInterval is the time between snapshots; one is also written
	// on a graceful stop. A SIGKILL loses what arrived since the last one.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
}

// Member is one herd member as the config describes it: its name, where it
// listens and is reached, and its neighbours. (herd.Node is a running
// member's command logic.)
type Member struct {
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
func (n Member) PeerAddress() string {
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

// Limits bound what one connection may cost a node.
type Limits struct {
	// MaxLine is the longest line accepted, in bytes (without "\n").
	MaxLine int `yaml:"max_line"`
	// MaxOutbound is how many reply bytes may wait for a client that does
	// not read before the node closes its connection.
	MaxOutbound int `yaml:"max_outbound"`
	// CloseAfterReply closes each client connection after its reply, for
	// clients that read until EOF.
	CloseAfterReply bool `yaml:"close_after_reply"`
	// MaxPending is how many replies may wait behind a connection's running
	// WHATSATs before the node stops reading that connection.
	MaxPending int `yaml:"max_pending"`
	// MaxPausedInbound is how many unread bytes a connection may pile up
	// while its reading is paused before the node closes it.
	MaxPausedInbound int `yaml:"max_paused_inbound"`

	// A node never falls over and never loses an update it acknowledged
	// (docs/OPERATIONS.md, Limits and shutdown). Zero means the default.
	//
	// MaxConns bounds the client connections of one node; a connection past
	// it is closed at once and counted. Peer links do not count. 0: auto,
	// three quarters of the node's share of the fd limit, less 64.
	MaxConns int `yaml:"max_conns"`
	// IdleTimeout closes a client connection that sent no complete line for
	// this long (peer links are exempt); default 5m, a negative value turns
	// it off.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// LineTimeout closes a connection whose partial line waits longer than
	// this for its newline (slowloris); default 30s.
	LineTimeout time.Duration `yaml:"line_timeout"`
	// WriteTimeout closes a connection whose owed output makes no progress
	// for this long; default 30s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds a graceful drain on SIGTERM; default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxOutputTotal bounds the reply bytes owed to all clients of a node;
	// past it the connections owing the most are closed first. Default 256 MiB.
	MaxOutputTotal int `yaml:"max_output_total"`
	// MaxFuture is how far ahead of the origin's clock an IAMAT's time may
	// be; a later one is refused with "? line". Default 24h.
	MaxFuture time.Duration `yaml:"max_future"`
}

// PeerConfig tunes the links between nodes.
type PeerConfig struct {
	// Queue bounds the updates waiting for one neighbour; when it is full the
	// oldest waiting updates are dropped and counted, and the link asks for a
	// digest sync, which repairs them.
	Queue int `yaml:"queue"`
	// BackoffMin and BackoffMax bound the jittered, doubling wait between
	// attempts to reach a neighbour that is down.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// DialTimeout bounds one connection attempt, its TLS and its handshake.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// SyncInterval is how often neighbours compare digests of their caches
	// and send each other what differs (also done when a link comes up, and
	// and as soon as a link that dropped updates has drained its queue).
	SyncInterval time.Duration `yaml:"sync_interval"`
	// Tree offers neighbours the spanning-tree push (Plumtree): on links
	// whose other end offers it too, each update is pushed along a
	// spanning tree and only announced on the other links, which repair
	// the tree; links to a node without it flood. Off by default: it
	// pays in herds with cycles beyond the five-node ring.
	Tree bool `yaml:"tree"`
}

// PlacesConfig chooses the backend that answers WHATSAT.
type PlacesConfig struct {
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
func (p PlacesConfig) ProviderConfig() places.Config {
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

// Defaults fills every unset setting with its default.
func (c *Config) Defaults() {
	c.Limits = c.Limits.WithDefaults()
	c.Peers = c.Peers.WithDefaults()
	setDefault(&c.Places.Backend, "geonames")
	setDefault(&c.Places.Timeout, 5*time.Second)
	setDefault(&c.Places.MaxInFlight, 64)
	setDefault(&c.Persistence.SnapshotInterval, 60*time.Second)
	for i := range c.Nodes {
		setDefault(&c.Nodes[i].Address, c.Nodes[i].Listen)
	}
}

// WithDefaults returns l with every unset limit set to its default.
func (l Limits) WithDefaults() Limits {
	setDefault(&l.MaxLine, codec.DefaultMaxLine)
	setDefault(&l.MaxOutbound, 4<<20)
	setDefault(&l.MaxPending, 256)
	setDefault(&l.MaxPausedInbound, 1<<20)
	setDefault(&l.IdleTimeout, 5*time.Minute)
	setDefault(&l.LineTimeout, 30*time.Second)
	setDefault(&l.WriteTimeout, 30*time.Second)
	setDefault(&l.ShutdownTimeout, 10*time.Second)
	setDefault(&l.MaxOutputTotal, 256<<20)
	setDefault(&l.MaxFuture, 24*time.Hour)
	return l
}

// WithDefaults returns p with every unset setting set to its default.
func (p PeerConfig) WithDefaults() PeerConfig {
	setDefault(&p.Queue, 65536)
	setDefault(&p.BackoffMin, 50*time.Millisecond)
	setDefault(&p.BackoffMax, 2*time.Second)
	setDefault(&p.DialTimeout, 2*time.Second)
	setDefault(&p.SyncInterval, 30*time.Second)
	return p
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// ConfigError names the setting that is wrong.
type ConfigError struct {
	Field string // e.g. "nodes[2].listen"
	Msg   string
}

func (e *ConfigError) Error() string { return "config: " + e.Field + ": " + e.Msg }

// LoadConfig reads, parses and validates a config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// DefaultConfig returns the embedded default herd, validated.
func DefaultConfig() *Config {
	c, err := ParseConfig(DefaultConfigYAML)
	if err != nil {
		panic("herd: embedded default config is invalid: " + err.Error())
	}
	return c
}

// ParseConfig parses YAML (unknown fields are errors), fills defaults and
// validates the result.
func ParseConfig(data []byte) (*Config, error) {
	if f, err := parser.ParseBytes(data, 0); err == nil {
		docs := 0
		for _, d := range f.Docs {
			if d.Body != nil {
				docs++
			}
		}
		if docs > 1 {
			return nil, fmt.Errorf("config: %d YAML documents (separated by ---): a herd config is one document", docs)
		}
	}
	var c Config
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.DisallowUnknownField()); err != nil {
		if field := badDuration(data); field != nil {
			return nil, field
		}
		return nil, fmt.Errorf("config: %s", yaml.FormatError(err, false, true))
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// durationFields are the settings holding a time.Duration.
var durationFields = []string{"limits.idle_timeout", "limits.line_timeout", "limits.write_timeout",
	"limits.shutdown_timeout", "limits.max_future", "peers.backoff_min", "peers.backoff_max", "peers.dial_timeout",
	"peers.sync_interval", "places.timeout", "persistence.snapshot_interval"}

// badDuration names the duration setting that does not parse, if any (the
// YAML decoder's own error does not say which one).
func badDuration(data []byte) error {
	for _, f := range durationFields {
		p, err := yaml.PathString("$." + f)
		if err != nil {
			continue
		}
		var v string
		if p.Read(bytes.NewReader(data), &v) != nil || v == "" {
			continue
		}
		if _, err := time.ParseDuration(v); err != nil {
			return &ConfigError{f, fmt.Sprintf("%q is not a duration (e.g. 50ms, 2s)", v)}
		}
	}
	return nil
}

// Validate checks the topology and limits, naming the first bad field.
func (c *Config) Validate() error {
	if len(c.Nodes) == 0 {
		return &ConfigError{"nodes", "no nodes defined"}
	}
	names := make(map[string]int, len(c.Nodes))
	for i, n := range c.Nodes {
		f := "nodes[" + strconv.Itoa(i) + "]"
		if n.Name == "" {
			return &ConfigError{f + ".name", "missing"}
		}
		if !validName(n.Name) {
			return &ConfigError{f + ".name", fmt.Sprintf("%q must be non-empty printable ASCII without white space", n.Name)}
		}
		if j, dup := names[n.Name]; dup {
			return &ConfigError{f + ".name", fmt.Sprintf("%q already used by nodes[%d]", n.Name, j)}
		}
		names[n.Name] = i
		if n.Listen == "" {
			return &ConfigError{f + ".listen", "missing"}
		}
		if err := checkHostPort(n.Listen); err != nil {
			return &ConfigError{f + ".listen", err.Error()}
		}
		for j := range i {
			if sameListen(c.Nodes[j].Listen, n.Listen) && sameMachine(c.Nodes[j], n) {
				return &ConfigError{f + ".listen", fmt.Sprintf("%q clashes with nodes[%d].listen %q", n.Listen, j, c.Nodes[j].Listen)}
			}
		}
		if err := checkHostPort(n.Address); err != nil {
			return &ConfigError{f + ".address", err.Error()}
		}
		if n.Admin != "" {
			if err := checkHostPort(n.Admin); err != nil {
				return &ConfigError{f + ".admin", err.Error()}
			}
			if n.Admin == n.Listen && !strings.HasSuffix(n.Admin, ":0") {
				return &ConfigError{f + ".admin", "must differ from listen (the admin port is never the client port)"}
			}
		}
		if n.PeerListen != "" {
			if err := checkHostPort(n.PeerListen); err != nil {
				return &ConfigError{f + ".peer_listen", err.Error()}
			}
		} else if c.Security.TLS.Enabled() {
			return &ConfigError{f + ".peer_listen", "missing: security.tls needs a peer port on every node"}
		}
	}
	if err := c.portClash(); err != nil {
		return err
	}
	// Neighbours dial each node at its peer address (address, or
	// peer_listen's port on address's host): two nodes on one address
	// would make a node dial itself, or the wrong neighbour.
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
			return &ConfigError{fmt.Sprintf("nodes[%d]%s", i, field),
				fmt.Sprintf("neighbours would dial %q, as they dial nodes[%d] (%s)", n.PeerAddress(), j, c.Nodes[j].Name)}
		}
		dial[a] = i
	}
	if t := c.Security.TLS; t.Enabled() && (t.Cert == "" || t.Key == "" || t.CA == "") {
		return &ConfigError{"security.tls", "needs cert, key and ca"}
	}
	for i, n := range c.Nodes {
		for j, nb := range n.Neighbors {
			f := fmt.Sprintf("nodes[%d].neighbors[%d]", i, j)
			if _, ok := names[nb]; !ok {
				return &ConfigError{f, fmt.Sprintf("unknown node %q", nb)}
			}
			if nb == n.Name {
				return &ConfigError{f, "a node cannot be its own neighbour"}
			}
		}
	}
	switch {
	case c.Limits.MaxLine < 16 || c.Limits.MaxLine > 1<<20:
		return &ConfigError{"limits.max_line", "must be between 16 and 1048576"}
	case c.Limits.MaxOutbound < 4096:
		return &ConfigError{"limits.max_outbound", "must be at least 4096"}
	case c.Limits.MaxPending < 1:
		return &ConfigError{"limits.max_pending", "must be positive"}
	case c.Limits.MaxPausedInbound < c.Limits.MaxLine:
		return &ConfigError{"limits.max_paused_inbound", "must be at least limits.max_line"}
	case c.Limits.MaxConns < 0:
		return &ConfigError{"limits.max_conns", "must not be negative (0: auto)"}
	case c.Limits.LineTimeout <= 0:
		return &ConfigError{"limits.line_timeout", "must be positive"}
	case c.Limits.WriteTimeout <= 0:
		return &ConfigError{"limits.write_timeout", "must be positive"}
	case c.Limits.ShutdownTimeout <= 0:
		return &ConfigError{"limits.shutdown_timeout", "must be positive"}
	case c.Limits.MaxOutputTotal < c.Limits.MaxOutbound:
		return &ConfigError{"limits.max_output_total", "must be at least limits.max_outbound"}
	case c.Limits.MaxFuture <= 0:
		return &ConfigError{"limits.max_future", "must be positive"}
	case c.Peers.Queue < 1:
		return &ConfigError{"peers.queue", "must be positive"}
	case c.Peers.BackoffMin <= 0 || c.Peers.BackoffMax < c.Peers.BackoffMin:
		return &ConfigError{"peers.backoff_max", "must be at least peers.backoff_min, both positive"}
	case c.Peers.DialTimeout <= 0:
		return &ConfigError{"peers.dial_timeout", "must be positive"}
	case c.Peers.SyncInterval <= 0:
		return &ConfigError{"peers.sync_interval", "must be positive"}
	case c.Places.Timeout <= 0:
		return &ConfigError{"places.timeout", "must be positive"}
	case c.Places.MaxInFlight < 1:
		return &ConfigError{"places.max_in_flight", "must be positive"}
	case c.Persistence.SnapshotInterval < time.Millisecond:
		return &ConfigError{"persistence.snapshot_interval", "must be at least 1ms"}
	}
	switch c.Places.Backend {
	case "geonames", "google", "google-new":
	default:
		return &ConfigError{"places.backend", fmt.Sprintf("%q is not one of geonames, google, google-new", c.Places.Backend)}
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
				return &ConfigError{fmt.Sprintf("nodes[%d].%s", b.node, b.field),
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
func sameMachine(a, b Member) bool {
	host := func(n Member) string {
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

// SecretEnv names the environment variable that overrides
// security.secret (the CLI reads it).
const SecretEnv = "HERD_SECRET"

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
func (c *Config) Node(name string) (Member, error) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name
	}
	return Member{}, fmt.Errorf("%w %q (the config defines %v)", ErrUnknownNode, name, names)
}

// Neighbors returns the nodes linked with name, in config order: those it
// lists and those that list it.
func (c *Config) Neighbors(name string) []Member {
	var out []Member
	var self Member
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
