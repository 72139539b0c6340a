package engine_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/conformance"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool and timers live for the process.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// testConfig is the default herd with every node on 127.0.0.1:0.
func testConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg := config.Default()
	for i := range cfg.Nodes {
		cfg.Nodes[i].Listen = "127.0.0.1:0"
		cfg.Nodes[i].Address = "127.0.0.1:0"
	}
	cfg.Peers.BackoffMin = 10 * time.Millisecond
	cfg.Peers.BackoffMax = 200 * time.Millisecond
	return cfg
}

func plainSetup(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
	var logger *slog.Logger
	if os.Getenv("HERD_TEST_LOG") != "" { // debugging aid: node logs on stderr
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return herd.NodeOptions{Name: nc.Name}, logger, nil
}

func startTestHerd(t testing.TB, cfg *config.Config, names ...string) *node.Herd {
	t.Helper()
	if len(names) == 0 {
		for _, n := range cfg.Nodes {
			names = append(names, n.Name)
		}
	}
	h, err := node.StartHerd(cfg, names, node.Options{Setup: plainSetup, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	return h
}

// client is the shared test connection.
type client = testclient.Client

// holds reports whether node (over TCP) holds line for the client: an IAMAT
// older than anything stored is answered with the stored line, byte for byte.
func holds(t testing.TB, addr, client, line string) bool {
	c := testclient.Dial(t, addr)
	defer c.Conn.Close()
	return c.Ask("IAMAT "+client+" +0.0+0.0 0") == line
}

func TestIAMATFloodsToEveryNode(t *testing.T) {
	t.Parallel()
	h := startTestHerd(t, testConfig(t))
	alford := h.Node("Alford")
	c := testclient.Dial(t, alford.Addr())
	reply := c.Ask("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450")
	f := strings.Fields(reply)
	if len(f) != 6 || f[0] != "AT" || f[1] != "Alford" || f[3] != "kiwi.cs.ucla.edu" ||
		f[4] != "+34.068930-118.445127" || f[5] != "1479413884.392014450" {
		t.Fatalf("reply %q", reply)
	}
	if !strings.HasPrefix(f[2], "+") || len(f[2]) < 11 || f[2][len(f[2])-10] != '.' || !strings.HasSuffix(reply, "\n") ||
		reply != strings.Join(f, " ")+"\n" {
		t.Fatalf("skew or spacing wrong in %q", reply)
	}
	for _, name := range []string{"Hamilton", "Welsh", "Holiday", "Ball"} {
		addr := h.Node(name).Addr()
		testclient.Eventually(t, name+" to hold the update", func() bool {
			return holds(t, addr, "kiwi.cs.ucla.edu", reply)
		})
	}
}

func TestNeighbourFailureAndRestart(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	h := startTestHerd(t, cfg)
	alford := testclient.Dial(t, h.Node("Alford").Addr())
	ham := h.Node("Hamilton")
	hamAddr := ham.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ham.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r1 := alford.Ask("IAMAT kiwi +34.068930-118.445127 100")
	for _, name := range []string{"Welsh", "Ball", "Holiday"} {
		addr := h.Node(name).Addr()
		testclient.Eventually(t, name+" to hold the update with Hamilton down", func() bool { return holds(t, addr, "kiwi", r1) })
	}
	// Restart Hamilton on the same address, empty.
	cfg2 := *cfg
	cfg2.Nodes = append([]config.Node(nil), cfg.Nodes...)
	for i := range cfg2.Nodes {
		if cfg2.Nodes[i].Name == "Hamilton" {
			cfg2.Nodes[i].Listen = hamAddr
		}
		if cfg2.Nodes[i].Name == "Alford" {
			cfg2.Nodes[i].Address = h.Node("Alford").Addr()
		}
		if cfg2.Nodes[i].Name == "Holiday" {
			cfg2.Nodes[i].Address = h.Node("Holiday").Addr()
		}
	}
	h2 := startTestHerd(t, &cfg2, "Hamilton")
	r2 := alford.Ask("IAMAT kiwi2 +1.0+1.0 200")
	testclient.Eventually(t, "restarted Hamilton to get a new update", func() bool { return holds(t, h2.Nodes[0].Addr(), "kiwi2", r2) })
	// Reconciliation: the update made while it was down reaches it too.
	testclient.Eventually(t, "restarted Hamilton to catch up", func() bool { return holds(t, h2.Nodes[0].Addr(), "kiwi", r1) })
}

// TestConformance runs the behaviour every I/O model shares against the gnet
// engine.
func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.Run(t, func(t *testing.T, opts herd.NodeOptions, limits engine.Limits) string {
		cfg := testConfig(t)
		cfg.Limits.Limits = limits.WithDefaults()
		setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
			o, l, err := plainSetup(nc)
			o.Places, o.PlacesTimeout, o.MaxInFlight, o.MaxFuture = opts.Places, opts.PlacesTimeout, opts.MaxInFlight, opts.MaxFuture
			return o, l, err
		}
		h, err := node.StartHerd(cfg, []string{opts.Name}, node.Options{Setup: setup, Loops: 2})
		if err != nil {
			t.Fatal(err)
		}
		testclient.StopAtCleanup(t, h.Stop)
		return h.Nodes[0].Addr()
	})
}
