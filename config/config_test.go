package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/config"
)

func neighborNames(c *config.Config, name string) []string {
	var out []string
	for _, n := range c.Neighbors(name) {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

func TestPeerAddress(t *testing.T) {
	c, err := config.Parse([]byte("nodes:\n" +
		"  - {name: A, listen: 0.0.0.0:1, address: a.example:1, peer_listen: 0.0.0.0:2}\n" +
		"  - {name: B, listen: 127.0.0.1:3, peer_listen: 10.0.0.2:4}\n" +
		"  - {name: C, listen: 127.0.0.1:5}\n" +
		"security: {secret: s}\npeers: {sync_interval: 5s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"a.example:2", "10.0.0.2:4", "127.0.0.1:5"} {
		if got := c.Nodes[i].PeerAddress(); got != want {
			t.Errorf("%s: PeerAddress %q, want %q", c.Nodes[i].Name, got, want)
		}
	}
	if c.Security.Secret != "s" || c.Peers.SyncInterval != 5*time.Second || !slices.Equal(c.Names(), []string{"A", "B", "C"}) {
		t.Errorf("config %+v", c)
	}
	if d := config.Default(); d.Peers.SyncInterval != 30*time.Second || d.Security.Secret != "" {
		t.Errorf("defaults: %+v", d)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := config.Default()
	var names []string
	for i, n := range c.Nodes {
		names = append(names, n.Name)
		if n.Address != n.Listen || !strings.HasPrefix(n.Listen, "127.0.0.1:") {
			t.Errorf("nodes[%d]: listen %q address %q", i, n.Listen, n.Address)
		}
	}
	if !slices.Equal(names, []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}) {
		t.Fatalf("nodes %q", names)
	}
	want := map[string][]string{
		"Alford":   {"Hamilton", "Welsh"},
		"Ball":     {"Holiday", "Welsh"},
		"Hamilton": {"Alford", "Holiday"},
		"Holiday":  {"Ball", "Hamilton"},
		"Welsh":    {"Alford", "Ball"},
	}
	for name, nbs := range want {
		if got := neighborNames(c, name); !slices.Equal(got, nbs) {
			t.Errorf("Neighbors(%s) = %q, want %q", name, got, nbs)
		}
	}
	// Symmetric: a in Neighbors(b) iff b in Neighbors(a).
	for _, a := range names {
		for _, b := range neighborNames(c, a) {
			if !slices.Contains(neighborNames(c, b), a) {
				t.Errorf("%s lists %s but not the reverse", a, b)
			}
		}
	}
	if got := c.Neighbors("Nope"); len(got) != 0 {
		t.Errorf("Neighbors(Nope) = %v", got)
	}
	// Defaults.
	if c.Limits.MaxLine != codec.DefaultMaxLine || c.Limits.MaxOutbound != 4<<20 || c.Peers.Heartbeat != time.Second || c.Peers.Timeout != 5*time.Second ||
		c.Peers.BackoffMin != 50*time.Millisecond || c.Peers.BackoffMax != 2*time.Second ||
		c.Peers.DialTimeout != 2*time.Second || c.Places.Backend != "geonames" ||
		c.Places.Timeout != 5*time.Second || c.Places.MaxInFlight != 64 ||
		c.Persistence.SnapshotInterval != time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	// Each call returns its own copy.
	c.Nodes[0].Name = "Changed"
	if config.Default().Nodes[0].Name != "Alford" {
		t.Error("DefaultConfig shares state between calls")
	}
}

func TestConfigNode(t *testing.T) {
	c := config.Default()
	n, err := c.Node("Holiday")
	if err != nil || n.Listen != "127.0.0.1:12723" {
		t.Errorf("Node(Holiday) = %+v, %v", n, err)
	}
	_, err = c.Node("Nope")
	if !errors.Is(err, config.ErrUnknownNode) || !strings.Contains(err.Error(), `"Nope"`) || !strings.Contains(err.Error(), "Alford") {
		t.Errorf("Node(Nope) error = %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := config.Parse([]byte(`
nodes:
  - name: A
    listen: 0.0.0.0:9000
    address: a.example:9000
    neighbors: [B]
  - name: B
    listen: "[::1]:9001"
limits:
  max_line: 16
  max_outbound: 4096
  close_after_reply: true
peers:
  heartbeat: 200ms
  backoff_min: 50ms
  backoff_max: 1m30s
  dial_timeout: 1.5s
places:
  backend: google-new
  url: http://127.0.0.1:1
  key: k
  timeout: 250ms
  max_in_flight: 3
persistence: {snapshot_interval: 200ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes[0].Address != "a.example:9000" || c.Nodes[1].Address != "[::1]:9001" {
		t.Errorf("addresses %+v", c.Nodes)
	}
	if c.Peers.BackoffMin != 50*time.Millisecond || c.Peers.BackoffMax != 90*time.Second ||
		c.Peers.DialTimeout != 1500*time.Millisecond || c.Places.Timeout != 250*time.Millisecond {
		t.Errorf("durations %+v %+v", c.Peers, c.Places)
	}
	if c.Persistence.SnapshotInterval != 200*time.Millisecond {
		t.Errorf("persistence %+v", c.Persistence)
	}
	if c.Limits.MaxLine != 16 || !c.Limits.CloseAfterReply || c.Places.Backend != "google-new" || c.Places.MaxInFlight != 3 {
		t.Errorf("settings %+v %+v", c.Limits, c.Places)
	}
	if got := neighborNames(c, "B"); !slices.Equal(got, []string{"A"}) {
		t.Errorf("Neighbors(B) = %q (a link listed on one side is two-way)", got)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const two = `
nodes:
  - name: A
    listen: 127.0.0.1:1
  - name: B
    listen: 127.0.0.1:2
`
	cases := []struct {
		name, yaml string
		field      string // must appear in the error
	}{
		{"unknown-key", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    colour: red\n", "colour"},
		{"unknown-top-key", two + "bogus: 1\n", "bogus"},
		{"no-nodes", "limits:\n  max_line: 100\n", "nodes"},
		{"empty", "", "nodes"},
		{"missing-name", "nodes:\n  - listen: 127.0.0.1:1\n", "nodes[0].name"},
		{"bad-name", "nodes:\n  - name: \"A B\"\n    listen: 127.0.0.1:1\n", "nodes[0].name"},
		{"missing-listen", "nodes:\n  - name: A\n  - name: B\n", "nodes[0].listen"},
		{"duplicate-name", two + "  - name: A\n    listen: 127.0.0.1:3\n", "nodes[2].name"},
		{"unknown-neighbour", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    neighbors: [A2, Nope]\n  - name: A2\n    listen: 127.0.0.1:2\n", "nodes[0].neighbors[1]"},
		{"self-neighbour", two + "    neighbors: [A, B]\n", "nodes[1].neighbors[1]"},
		{"bad-listen", "nodes:\n  - name: A\n    listen: nohost\n", "nodes[0].listen"},
		{"bad-port", "nodes:\n  - name: A\n    listen: 127.0.0.1:99999\n", "nodes[0].listen"},
		{"empty-port", "nodes:\n  - name: A\n    listen: \"127.0.0.1:\"\n", "nodes[0].listen"},
		{"bad-address", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    address: nohost\n", "nodes[0].address"},
		{"bad-backend", two + "places:\n  backend: bing\n", "places.backend"},
		{"max-line-small", two + "limits:\n  max_line: 15\n", "limits.max_line"},
		{"max-line-big", two + "limits:\n  max_line: 1048577\n", "limits.max_line"},
		{"max-line-negative", two + "limits:\n  max_line: -1\n", "limits.max_line"},
		{"max-outbound", two + "limits:\n  max_outbound: 100\n", "limits.max_outbound"},
		{"queue-retired", two + "peers:\n  queue: 65536\n", "peers.queue"},
		{"heartbeat", two + "peers:\n  heartbeat: -1s\n", "peers.heartbeat"},
		{"timeout-short", two + "peers:\n  heartbeat: 2s\n  timeout: 3s\n", "peers.timeout"},
		{"backoff", two + "peers:\n  backoff_min: 1s\n  backoff_max: 500ms\n", "peers.backoff_max"},
		{"dial-timeout", two + "peers:\n  dial_timeout: -1s\n", "peers.dial_timeout"},
		{"places-timeout", two + "places:\n  timeout: -5s\n", "places.timeout"},
		{"sync-interval", two + "peers:\n  sync_interval: -1s\n", "peers.sync_interval"},
		{"bad-peer-listen", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    peer_listen: nohost\n", "nodes[0].peer_listen"},
		{"tls-without-peer-port", two + "security:\n  tls: {cert: c.pem, key: k.pem, ca: ca.pem}\n", "nodes[0].peer_listen"},
		{"tls-incomplete", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    peer_listen: 127.0.0.1:2\nsecurity:\n  tls: {cert: c.pem}\n", "security.tls"},
		{"in-flight", two + "places:\n  max_in_flight: -2\n", "places.max_in_flight"},
		{"snapshot-interval", two + "persistence:\n  snapshot_interval: -1s\n", "persistence.snapshot_interval"},
		{"snapshot-interval-bad", two + "persistence: {snapshot_interval: often}\n", "persistence.snapshot_interval"},
		{"persistence-unknown", two + "persistence: {data_dir: /tmp}\n", "data_dir"},
		{"duplicate-listen", two + "  - name: C\n    listen: 127.0.0.1:2\n", "nodes[2].listen"},
		{"listen-wildcard-clash", two + "  - name: C\n    listen: 0.0.0.0:1\n", "nodes[2].listen"},
		{"max-conns", two + "limits:\n  max_conns: -1\n", "limits.max_conns"},
		{"line-timeout", two + "limits:\n  line_timeout: -1s\n", "limits.line_timeout"},
		{"write-timeout", two + "limits:\n  write_timeout: -1s\n", "limits.write_timeout"},
		{"shutdown-timeout", two + "limits:\n  shutdown_timeout: -1s\n", "limits.shutdown_timeout"},
		{"max-output-total", two + "limits:\n  max_output_total: 5000\n", "limits.max_output_total"},
		{"max-future", two + "limits:\n  max_future: -1h\n", "limits.max_future"},
		{"bad-limits-duration", two + "limits:\n  idle_timeout: soon\n", "limits.idle_timeout"},
		// goccy/go-yaml reports a bad duration without its position or key
		// (see the report); at least the value is named.
		{"bad-duration", two + "peers:\n  backoff_min: fast\n", "peers.backoff_min"},
		{"not-yaml", "nodes: [", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
			var ce *config.FieldError
			if errors.As(err, &ce) && ce.Field != tc.field {
				t.Errorf("ConfigError.Field = %q, want %q", ce.Field, tc.field)
			}
		})
	}
}

// A retired key is explained, not just called unknown.
func TestRetiredKeyExplained(t *testing.T) {
	_, err := config.Parse([]byte("nodes:\n  - {name: A, listen: 127.0.0.1:1}\npeers: {queue: 65536}\n"))
	if err == nil || !strings.Contains(err.Error(), "peers.queue: no longer exists") || !strings.Contains(err.Error(), "remove the key") {
		t.Errorf("error %v, want peers.queue explained", err)
	}
}

func TestValidateDirect(t *testing.T) {
	// Validate on a struct built in code, without Defaults: every limit is
	// checked, and an empty address is an error.
	c := &config.Config{Nodes: []config.Node{{Name: "A", Listen: "127.0.0.1:1"}}}
	err := c.Validate()
	var ce *config.FieldError
	if !errors.As(err, &ce) || ce.Field != "nodes[0].address" {
		t.Errorf("Validate without defaults = %v", err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after Defaults = %v", err)
	}
	if got := (&config.FieldError{Field: "x.y", Msg: "bad"}).Error(); got != "config: x.y: bad" {
		t.Errorf("ConfigError = %q", got)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := config.Load(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(dir, "herd.yaml")
	if err := os.WriteFile(p, config.DefaultYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil || len(c.Nodes) != 5 {
		t.Fatalf("LoadConfig(default) = %v, %v", c, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("nodes:\n  - name: A\n    listen: nohost\n"), 0o600)
	_, err = config.Load(bad)
	var ce *config.FieldError
	if err == nil || !strings.Contains(err.Error(), bad) || !errors.As(err, &ce) || ce.Field != "nodes[0].listen" {
		t.Errorf("LoadConfig(bad) = %v", err)
	}
}

func TestListenClashes(t *testing.T) {
	ok := "nodes:\n  - name: A\n    listen: 127.0.0.1:0\n  - name: B\n    listen: 127.0.0.1:0\n" +
		"  - name: C\n    listen: 127.0.0.1:5\n  - name: D\n    listen: 127.0.0.2:5\n"
	if _, err := config.Parse([]byte(ok)); err != nil {
		t.Fatalf("port 0 twice and one port on two hosts must be allowed: %v", err)
	}
	// One machine per node (or one Kubernetes pod): the same wildcard
	// listen address is fine when the advertised addresses differ.
	machines := "nodes:\n  - name: A\n    listen: 0.0.0.0:12720\n    address: a.example:12720\n" +
		"  - name: B\n    listen: 0.0.0.0:12720\n    address: b.example:12720\n"
	if _, err := config.Parse([]byte(machines)); err != nil {
		t.Fatalf("nodes on different machines must be allowed the same listen address: %v", err)
	}
	same := "nodes:\n  - name: A\n    listen: 0.0.0.0:12720\n    address: a.example:12720\n" +
		"  - name: B\n    listen: 0.0.0.0:12720\n    address: a.example:12721\n"
	if _, err := config.Parse([]byte(same)); err == nil {
		t.Fatal("two nodes on one machine listening on the same port must be refused")
	}
}

// One node's admin or peer port on another node's port (on the same
// machine) passed config check, and then `herd up` failed with "address
// already in use".
func TestPortClashesAcrossFields(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:13000\n    admin: 127.0.0.1:13001\n" +
			"  - name: B\n    listen: 127.0.0.1:13001\n", "nodes[1].listen"},
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:13000\n    peer_listen: 127.0.0.1:13002\n" +
			"  - name: B\n    listen: 127.0.0.1:13002\n", "nodes[1].listen"},
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:13000\n    admin: 127.0.0.1:13005\n" +
			"  - name: B\n    listen: 127.0.0.1:13001\n    admin: 0.0.0.0:13005\n", "nodes[1].admin"},
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:13000\n    admin: 127.0.0.1:13005\n    peer_listen: 127.0.0.1:13005\n", "nodes[0].admin"},
		{"nodes:\n  - name: A\n    listen: 0.0.0.0:13000\n    peer_listen: 127.0.0.1:13000\n", "nodes[0].peer_listen"},
	} {
		_, err := config.Parse([]byte(tc.yaml))
		var ce *config.FieldError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(err.Error(), "clashes with") {
			t.Errorf("ParseConfig(%q) = %v; want a clash naming %s", tc.yaml, err, tc.field)
		}
	}
	// Two nodes that neighbours would dial at one address: config check
	// said ok, and the node dialled itself ("A" is not a neighbour) while
	// B's link never came up.
	same := "nodes:\n  - name: A\n    listen: 127.0.0.1:13600\n    neighbors: [B]\n" +
		"  - name: B\n    listen: 127.0.0.1:13601\n    address: 127.0.0.1:13600\n"
	var ce *config.FieldError
	if _, err := config.Parse([]byte(same)); !errors.As(err, &ce) || ce.Field != "nodes[1].address" {
		t.Errorf("two nodes dialled at one address: %v; want nodes[1].address", err)
	}
	ok := "nodes:\n  - name: A\n    listen: 0.0.0.0:12720\n    address: a.example:12720\n    admin: 0.0.0.0:12730\n    peer_listen: 0.0.0.0:13720\n" +
		"  - name: B\n    listen: 0.0.0.0:12720\n    address: b.example:12720\n    admin: 0.0.0.0:12730\n    peer_listen: 0.0.0.0:13720\n" +
		"  - name: C\n    listen: 127.0.0.1:0\n    admin: 127.0.0.1:0\n    peer_listen: 127.0.0.1:0\n"
	if _, err := config.Parse([]byte(ok)); err != nil {
		t.Errorf("nodes on different machines, and port 0, must be allowed: %v", err)
	}
	if _, err := config.Parse(config.DefaultYAML); err != nil {
		t.Errorf("the default herd: %v", err)
	}
}

func TestLimitsDefaultsAndIdleOff(t *testing.T) {
	c, err := config.Parse([]byte("nodes:\n  - name: A\n    listen: 127.0.0.1:1\nlimits:\n  idle_timeout: -1s\n  max_conns: 500\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.IdleTimeout >= 0 || l.MaxConns != 500 || l.LineTimeout != 30*time.Second || l.WriteTimeout != 30*time.Second ||
		l.ShutdownTimeout != 10*time.Second || l.MaxOutputTotal != 256<<20 || l.MaxFuture != 24*time.Hour {
		t.Fatalf("limits %+v", l)
	}
}

func TestConfigOneDocument(t *testing.T) {
	two := "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n---\nnodes:\n  - name: B\n    listen: 127.0.0.1:2\n"
	if _, err := config.Parse([]byte(two)); err == nil || !strings.Contains(err.Error(), "2 YAML documents") {
		t.Errorf("two documents: %v", err)
	}
	one := "---\nnodes:\n  - name: A\n    listen: 127.0.0.1:1\n"
	if _, err := config.Parse([]byte(one)); err != nil {
		t.Errorf("one document with a leading ---: %v", err)
	}
}
