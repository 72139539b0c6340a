package baseline_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/bench/baseline"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/conformance"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The herd test runs nodes through package node, which links
		// gnet, whose shared worker pool lives for the process; the baseline
		// itself starts none of these.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

func testLogger() *slog.Logger {
	if os.Getenv("HERD_TEST_LOG") != "" { // debugging aid: node logs on stderr
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startNode runs one baseline node on 127.0.0.1:0 until the test ends.
func startNode(t *testing.T, opts herd.NodeOptions, limits engine.Limits) *baseline.Server {
	t.Helper()
	s := baseline.New(herd.NewNode(opts), baseline.Config{Listen: "127.0.0.1:0", Limits: limits, Logger: testLogger()})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	return s
}

// TestHerdFloodsToFarEnd runs three baseline nodes in a line,
// Hamilton -- Holiday -- Ball, and reports at one end.
func TestHerdFloodsToFarEnd(t *testing.T) {
	cfg, err := config.Parse([]byte(`
nodes:
  - {name: Hamilton, listen: "127.0.0.1:0", neighbors: [Holiday]}
  - {name: Holiday, listen: "127.0.0.1:0", neighbors: [Ball]}
  - {name: Ball, listen: "127.0.0.1:0"}
peers: {backoff_min: 10ms, backoff_max: 200ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		return herd.NodeOptions{}, testLogger(), nil
	}
	newServer := func(node *herd.Node, sc node.ServerConfig) node.Server {
		return baseline.New(node, baseline.Config{Listen: sc.Listen, Limits: sc.Limits, Logger: sc.Logger, HandOff: sc.HandOff})
	}
	h, err := node.StartHerd(cfg, []string{"Hamilton", "Holiday", "Ball"}, node.Options{Setup: setup, NewServer: newServer})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	c := testclient.Dial(t, h.Node("Hamilton").Addr())
	reply := c.Ask("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450")
	if !strings.HasPrefix(reply, "AT Hamilton ") {
		t.Fatalf("reply %q", reply)
	}
	far := testclient.Dial(t, h.Node("Ball").Addr())
	deadline := time.Now().Add(10 * time.Second)
	for {
		// An IAMAT older than the stored one is answered with the stored line.
		if got := far.Ask("IAMAT kiwi.cs.ucla.edu +0.0+0.0 0"); got == reply {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("Ball holds %q, want %q", got, reply)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConformance runs the behaviour every I/O model shares against the
// goroutine-per-connection baseline.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, opts herd.NodeOptions, limits engine.Limits) string {
		return startNode(t, opts, limits).Addr()
	})
}

// TestDoneAfterStop: the baseline is a node.Server in full; Done closes
// once Stop has stopped it, Err stays nil (it never stops on its own), and
// its Stats and SetLimits do nothing.
func TestDoneAfterStop(t *testing.T) {
	var s node.Server = baseline.New(herd.NewNode(herd.NodeOptions{Name: "Ball"}), baseline.Config{Listen: "127.0.0.1:0", Logger: testLogger()})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	s.SetLimits(engine.Limits{MaxLine: 16})
	if st := s.Stats(); st != (engine.Stats{}) {
		t.Errorf("Stats = %+v, want zero", st)
	}
	select {
	case <-s.Done():
		t.Fatal("Done closed before Stop")
	default:
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Stop")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}
