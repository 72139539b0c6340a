package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool and timers live for the process.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}

// testConfig is the default herd with every node on 127.0.0.1:0.
func testConfig(t testing.TB) *herd.Config {
	t.Helper()
	cfg := herd.DefaultConfig()
	for i := range cfg.Nodes {
		cfg.Nodes[i].Listen = "127.0.0.1:0"
		cfg.Nodes[i].Address = "127.0.0.1:0"
	}
	cfg.Peers.BackoffMin = 10 * time.Millisecond
	cfg.Peers.BackoffMax = 200 * time.Millisecond
	return cfg
}

func plainSetup(nc herd.NodeConfig) (*herd.Node, *slog.Logger, error) {
	var logger *slog.Logger
	if os.Getenv("HERD_TEST_LOG") != "" { // debugging aid: node logs on stderr
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return herd.NewNode(nc.Name, herd.NewCache(), nil), logger, nil
}

func startTestHerd(t testing.TB, cfg *herd.Config, names ...string) *Herd {
	t.Helper()
	if len(names) == 0 {
		for _, n := range cfg.Nodes {
			names = append(names, n.Name)
		}
	}
	h, err := StartHerd(cfg, names, plainSetup, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
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
	h := startTestHerd(t, testConfig(t))
	alford := h.Server("Alford")
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
		addr := h.Server(name).Addr()
		testclient.Eventually(t, name+" to hold the update", func() bool {
			return holds(t, addr, "kiwi.cs.ucla.edu", reply)
		})
	}
}

func TestStaleIAMATGetsStoredLine(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Holiday")
	c := testclient.Dial(t, h.Servers[0].Addr())
	first := c.Ask("IAMAT kiwi +34.068930-118.445127 1479413884.5")
	if got := c.Ask("IAMAT kiwi +10.0-10.0 1479413884.4"); got != first {
		t.Fatalf("stale IAMAT: got %q, want stored %q", got, first)
	}
	if got := c.Ask("IAMAT kiwi +10.0-10.0 1479413885"); got == first || !strings.Contains(got, "+10.0-10.0") {
		t.Fatalf("newer IAMAT not stored: %q", got)
	}
}

func TestInvalidLinesOverTCP(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Ball")
	c := testclient.Dial(t, h.Servers[0].Addr())
	for _, l := range []string{
		"LLL",
		"IAMAT kiwi 34.068930-118.445127 1.0",
		"WHATSAT kiwi 51 5",
		"WHATSAT never-seen-client 10 5",
		"iamat kiwi +1.0+1.0 1",
		"",
		"   IAMAT  kiwi +91.0+1.0 1  ",
		"AT x y z",
	} {
		if got, want := c.Ask(l), "? "+l+"\n"; got != want {
			t.Errorf("%q: got %q, want %q", l, got, want)
		}
	}
	// \r\n is one terminator; the reply carries the line without it.
	if got := c.Ask("LLL\r"); got != "? LLL\n" {
		t.Errorf("crlf: %q", got)
	}
	if got := c.Ask("IAMAT kiwi +1.0+1.0 1"); !strings.HasPrefix(got, "AT Ball ") {
		t.Errorf("connection unusable after invalid lines: %q", got)
	}
}

func TestPipelinedThousand(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Welsh")
	c := testclient.Dial(t, h.Servers[0].Addr())
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "IAMAT client%d +1.0+2.0 %d.5\n", i, 1000+i)
	}
	c.Send(b.String())
	for i := range 1000 {
		l := c.Line()
		if want := fmt.Sprintf(" client%d +1.0+2.0 %d.5\n", i, 1000+i); !strings.HasSuffix(l, want) || !strings.HasPrefix(l, "AT Welsh ") {
			t.Fatalf("reply %d: %q, want suffix %q", i, l, want)
		}
	}
}

func TestHalfCloseGetsFullReply(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Welsh")
	c := testclient.Dial(t, h.Servers[0].Addr())
	// The last line has no newline: it still counts once the client half-closes.
	c.Send("IAMAT a +1.0+2.0 1\nIAMAT b +1.0+2.0 2\nLLL")
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(c.R)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(all), "\n")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], " a +1.0+2.0 1") || !strings.HasSuffix(lines[1], " b +1.0+2.0 2") || lines[2] != "? LLL" || lines[3] != "" {
		t.Fatalf("half-close replies: %q", all)
	}
}

func TestOverlongLineClosesOnlyThatClient(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Hamilton")
	addr := h.Servers[0].Addr()
	other := testclient.Dial(t, addr)
	c := testclient.Dial(t, addr)
	long := strings.Repeat("x", 5000) // no newline: the limit applies before it arrives
	c.Send(long)
	got, err := io.ReadAll(c.R)
	if err != nil {
		t.Fatal(err)
	}
	if want := "? " + long[:4096] + "\n"; string(got) != want {
		t.Fatalf("over-long reply: %d bytes, want %d", len(got), len(want))
	}
	if r := other.Ask("IAMAT kiwi +1.0+1.0 1"); !strings.HasPrefix(r, "AT Hamilton ") {
		t.Fatalf("other client: %q", r)
	}
}

func TestNeighbourFailureAndRestart(t *testing.T) {
	cfg := testConfig(t)
	h := startTestHerd(t, cfg)
	alford := testclient.Dial(t, h.Server("Alford").Addr())
	ham := h.Server("Hamilton")
	hamAddr := ham.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ham.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r1 := alford.Ask("IAMAT kiwi +34.068930-118.445127 100")
	for _, name := range []string{"Welsh", "Ball", "Holiday"} {
		addr := h.Server(name).Addr()
		testclient.Eventually(t, name+" to hold the update with Hamilton down", func() bool { return holds(t, addr, "kiwi", r1) })
	}
	// Restart Hamilton on the same address, empty.
	cfg2 := *cfg
	cfg2.Nodes = append([]herd.NodeConfig(nil), cfg.Nodes...)
	for i := range cfg2.Nodes {
		if cfg2.Nodes[i].Name == "Hamilton" {
			cfg2.Nodes[i].Listen = hamAddr
		}
		if cfg2.Nodes[i].Name == "Alford" {
			cfg2.Nodes[i].Address = h.Server("Alford").Addr()
		}
		if cfg2.Nodes[i].Name == "Holiday" {
			cfg2.Nodes[i].Address = h.Server("Holiday").Addr()
		}
	}
	h2 := startTestHerd(t, &cfg2, "Hamilton")
	r2 := alford.Ask("IAMAT kiwi2 +1.0+1.0 200")
	testclient.Eventually(t, "restarted Hamilton to get a new update", func() bool { return holds(t, h2.Servers[0].Addr(), "kiwi2", r2) })
	// Reconciliation: the update made while it was down reaches it too.
	testclient.Eventually(t, "restarted Hamilton to catch up", func() bool { return holds(t, h2.Servers[0].Addr(), "kiwi", r1) })
}

func TestLineSplitAcrossReads(t *testing.T) {
	h := startTestHerd(t, testConfig(t), "Ball")
	c := testclient.Dial(t, h.Servers[0].Addr())
	for _, b := range []byte("IAMAT kiwi +1.0+1.0 1\r\nLLL\r\n") {
		c.Send(string(b))
		time.Sleep(time.Millisecond) // separate segments, so the loop sees partial lines
	}
	if got := c.Line(); !strings.HasPrefix(got, "AT Ball ") || !strings.HasSuffix(got, " kiwi +1.0+1.0 1\n") {
		t.Fatalf("split IAMAT: %q", got)
	}
	if got := c.Line(); got != "? LLL\n" {
		t.Fatalf("split invalid: %q", got)
	}
}

func TestCloseAfterReply(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.CloseAfterReply = true
	h := startTestHerd(t, cfg, "Welsh")
	c := testclient.Dial(t, h.Servers[0].Addr())
	// Two requests in one write: one reply, then the node closes.
	c.Send("IAMAT a +1.0+2.0 1\nIAMAT b +1.0+2.0 2\n")
	all, err := io.ReadAll(c.R)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(string(all), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[0], " a +1.0+2.0 1") {
		t.Fatalf("close-after-reply: %q", all)
	}
}
