package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/geonames"
	"github.com/herdnet/herd/places/provider"
)

// startAdminHerd runs the default herd in this process on 127.0.0.1:0, with
// admin ports and the offline places index, and writes a config file that
// names the real addresses (for herd status).
func startAdminHerd(t *testing.T) (*node.Herd, string) {
	t.Helper()
	cfg := config.Default()
	for i := range cfg.Nodes {
		cfg.Nodes[i].Listen, cfg.Nodes[i].Address, cfg.Nodes[i].Admin = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	}
	cfg.Peers.BackoffMin, cfg.Peers.BackoffMax = 10*time.Millisecond, 200*time.Millisecond
	p, err := provider.New(places.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		return herd.NodeOptions{Name: nc.Name, Places: p}, nil, nil
	}
	var names []string
	for _, n := range cfg.Nodes {
		names = append(names, n.Name)
	}
	h, err := node.StartHerd(cfg, names, node.Options{Setup: setup, Loops: 1, Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	// The offline index is built once the nodes listen: wait for it, as a
	// client would wait for /readyz (seconds under the race detector).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.(*geonames.Pending).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("nodes:\n")
	for _, m := range h.Nodes {
		var nbs []string
		for _, nb := range cfg.Neighbors(m.Node.Name()) {
			nbs = append(nbs, nb.Name)
		}
		fmt.Fprintf(&b, "  - name: %s\n    listen: %s\n    admin: %s\n    neighbors: [%s]\n", m.Node.Name(), m.Addr(), m.AdminAddr(), strings.Join(nbs, ", "))
	}
	return h, writeFile(t, "herd.yaml", b.String())
}

func TestClientCommands(t *testing.T) {
	h, cfgFile := startAdminHerd(t)
	alford, ball := h.Node("Alford").Addr(), h.Node("Ball").Addr()

	code, out, errOut := runHerd(t, "iamat", "--addr", alford, "kiwi.cs.ucla.edu", "+34.068930-118.445127")
	if code != 0 || !strings.HasPrefix(out, "AT Alford +") || !strings.HasSuffix(out, " kiwi.cs.ucla.edu +34.068930-118.445127 "+strings.Fields(out)[5]+"\n") {
		t.Fatalf("iamat: %d %q %q", code, out, errOut)
	}
	at := out
	testclient.Eventually(t, "Ball to hold kiwi", func() bool {
		code, out, _ := runHerd(t, "whatsat", "kiwi.cs.ucla.edu", "10", "2", "--addr", ball)
		return code == 0 && strings.HasPrefix(out, at) && strings.Contains(out, `"status" : "OK"`) && strings.HasSuffix(out, "}\n\n")
	})
	// A southern, western location: "-33..." is an argument, not a flag.
	code, out, errOut = runHerd(t, "iamat", "--addr", alford, "sydney", "-33.868820+151.209296")
	if code != 0 || !strings.HasPrefix(out, "AT Alford +") || !strings.Contains(out, " sydney -33.868820+151.209296 ") {
		t.Errorf("iamat with a negative latitude: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runHerd(t, "iamat", "sydney", "-33.868820+151.209296", "--addr", alford)
	if code != 0 || !strings.Contains(out, " sydney -33.868820+151.209296 ") {
		t.Errorf("iamat with a negative latitude, flag last: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runHerd(t, "whatsat", "--addr", alford, "sydney", "050", "01")
	if code != 0 || !strings.Contains(out, " sydney -33.868820+151.209296 ") {
		t.Errorf("whatsat 050 01: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runHerd(t, "whatsat", "--addr", ball, "never-seen", "10", "2")
	if code != 1 || out != "? WHATSAT never-seen 10 2\n" || !strings.Contains(errOut, "refused") {
		t.Errorf("whatsat about an unknown client: %d %q %q", code, out, errOut)
	}

	testclient.Eventually(t, "every link up in herd status", func() bool {
		code, out, _ := runHerd(t, "status", "--config", cfgFile)
		return code == 0 && strings.Count(out, ":up") == 10
	})
	_, out, _ = runHerd(t, "status", "--config", cfgFile)
	if !strings.HasPrefix(out, "NODE") || !strings.Contains(out, "Alford") || !strings.Contains(out, "Hamilton:up") {
		t.Errorf("status table:\n%s", out)
	}
	if err := h.Node("Ball").Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runHerd(t, "status", "--config", cfgFile)
	if code != 1 || !strings.Contains(out, "Ball") || !strings.Contains(errOut, "1 of 5 nodes down") {
		t.Errorf("status with Ball down: %d\n%s%s", code, out, errOut)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Ball ") && !strings.Contains(l, "down") {
			t.Errorf("Ball's row: %q", l)
		}
	}
}

func TestClientUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"iamat"}, "needs CLIENT and LOCATION"},
		{[]string{"iamat", "kiwi", "34.068930-118.445127"}, "LOCATION"},
		{[]string{"iamat", "kiwi", "+91.0+0.0"}, "LOCATION"},
		{[]string{"iamat", "ki wi", "+1.0+1.0"}, "CLIENT"},
		{[]string{"whatsat", "kiwi", "51", "5"}, "RADIUS_KM"},
		{[]string{"whatsat", "kiwi", "0", "5"}, "RADIUS_KM"},
		{[]string{"whatsat", "kiwi", "1e1", "5"}, "RADIUS_KM"},
		{[]string{"whatsat", "kiwi", "10", "21"}, "BOUND"},
		{[]string{"whatsat", "kiwi", "10", "1.5"}, "BOUND"},
		{[]string{"whatsat", "kiwi", "10"}, "needs CLIENT RADIUS_KM BOUND"},
		// The node refuses these radii; the CLI used to send them and exit 1.
		{[]string{"whatsat", "kiwi", ".5", "5"}, "RADIUS_KM"},
		{[]string{"whatsat", "kiwi", "5.", "5"}, "RADIUS_KM"},
		{[]string{"whatsat", "kiwi", "+5", "5"}, "RADIUS_KM"},
		{[]string{"whatsat", "kiwi", "0x1p2", "5"}, "RADIUS_KM"},
		{[]string{"status", "extra"}, "no arguments"},
		{[]string{"config"}, "herd config check FILE"},
		{[]string{"config", "check"}, "exactly one FILE"},
	} {
		code, _, errOut := runHerd(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestIAMATUnreachable(t *testing.T) {
	code, _, errOut := runHerd(t, "iamat", "--addr", "127.0.0.1:1", "kiwi", "+1.0+1.0")
	if code != 1 || !strings.Contains(errOut, "refused") {
		t.Errorf("iamat to a closed port: %d %q", code, errOut)
	}
}

func TestConfigCheck(t *testing.T) {
	good := writeFile(t, "good.yaml", string(config.DefaultYAML))
	code, out, errOut := runHerd(t, "config", "check", good)
	if code != 0 || !strings.Contains(out, "ok: 5 nodes, 5 links, places backend geonames") || !strings.Contains(out, "admin 127.0.0.1:12730") {
		t.Errorf("config check of the default herd: %d %q %q", code, out, errOut)
	}
	for _, tc := range []struct{ yaml, field string }{
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    admin: nope\n", "nodes[0].admin"},
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    admin: 127.0.0.1:1\n", "nodes[0].admin"},
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    neighbors: [B]\n", "nodes[0].neighbors[0]"},
		{"nodes: []\n", "nodes"},
		{"nodes:\n  - name: A\n    listen: 127.0.0.1:1\nlimits:\n  max_line: 1\n", "limits.max_line"},
	} {
		code, _, errOut := runHerd(t, "config", "check", writeFile(t, "bad.yaml", tc.yaml))
		if code != 2 || !strings.Contains(errOut, tc.field+":") {
			t.Errorf("config check of\n%s: exit %d, %q; want 2 naming %s", tc.yaml, code, errOut, tc.field)
		}
	}
	if code, _, errOut := runHerd(t, "config", "check", "/nonexistent.yaml"); code != 2 || !strings.Contains(errOut, "no such file") {
		t.Errorf("config check of a missing file: %d %q", code, errOut)
	}
}

// TestConfigCheckWarnsOfAnExposedAdminPort: an admin port off loopback
// without security.admin_token (or HERD_ADMIN_TOKEN) gets a warning.
func TestConfigCheckWarnsOfAnExposedAdminPort(t *testing.T) {
	const nodes = "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    admin: 0.0.0.0:2\n  - name: B\n    listen: 127.0.0.1:3\n    admin: 127.0.0.1:4\n"
	for _, tc := range []struct {
		name, yaml, env string
		warn            bool
	}{
		{"no token", nodes, "", true},
		{"token in the file", nodes + "security:\n  admin_token: s3cret\n", "", false},
		{"token in the environment", nodes, "s3cret", false},
		{"loopback only", strings.Replace(nodes, "0.0.0.0:2", "127.0.0.1:2", 1), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(config.AdminTokenEnv, tc.env)
			code, out, errOut := runHerd(t, "config", "check", writeFile(t, "c.yaml", tc.yaml))
			warned := strings.Contains(out, "warning: A: admin port 0.0.0.0:2 is not on loopback and has no token")
			if code != 0 || warned != tc.warn || strings.Contains(out, "warning: B") {
				t.Errorf("exit %d, warned %v (want %v):\n%s%s", code, warned, tc.warn, out, errOut)
			}
		})
	}
}

// TestStatusSendsTheAdminToken: herd status sends security.admin_token (or
// HERD_ADMIN_TOKEN) to admin ports that want one.
func TestStatusSendsTheAdminToken(t *testing.T) {
	s := admin.New(admin.Node{Name: "A", Token: "s3cret"}, nil)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	cfgFile := writeFile(t, "one.yaml", "nodes:\n  - name: A\n    listen: 127.0.0.1:1\n    admin: "+s.Addr()+"\n")
	t.Setenv(config.AdminTokenEnv, "")
	if code, out, _ := runHerd(t, "status", "--config", cfgFile); code != 1 || !strings.Contains(out, "HTTP 401") {
		t.Errorf("status without the token: %d\n%s", code, out)
	}
	t.Setenv(config.AdminTokenEnv, "s3cret")
	if code, out, errOut := runHerd(t, "status", "--config", cfgFile); code != 0 || !strings.Contains(out, "\nA ") || strings.Contains(out, "down") {
		t.Errorf("status with the token: %d\n%s%s", code, out, errOut)
	}
}
