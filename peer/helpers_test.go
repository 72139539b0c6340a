package peer_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's worker pool (ants) is process-wide and outlives servers.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		// toxiproxy's own pipes may outlive a stopped proxy by a moment
		// (a NoopToxic blocked on its channel); herd's goroutines are
		// still all checked.
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
	)
}

// logBuf collects the JSON logs of a test's nodes.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the log lines of node that contain every one of words.
func (l *logBuf) lines(node string, words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if node != "" && !strings.Contains(line, `"node":"`+node+`"`) {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// freePorts returns n loopback addresses that were free a moment ago, for
// herds whose nodes restart on the same address.
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ln.Addr().String()
		defer ln.Close()
	}
	return out
}

// ring is the default herd's topology on the given addresses (listen, then
// optional peer ports), with extra YAML appended.
func ring(t testing.TB, listen, peerListen []string, extra string) *config.Config {
	t.Helper()
	names := []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	nbs := map[string]string{"Alford": "[Hamilton, Welsh]", "Ball": "[Holiday, Welsh]", "Hamilton": "[Holiday]", "Holiday": "[]", "Welsh": "[]"}
	var b strings.Builder
	b.WriteString("nodes:\n")
	for i, n := range names {
		fmt.Fprintf(&b, "  - {name: %s, listen: %q, neighbors: %s", n, listen[i], nbs[n])
		if peerListen != nil {
			fmt.Fprintf(&b, ", peer_listen: %q", peerListen[i])
		}
		b.WriteString("}\n")
	}
	b.WriteString(extra)
	cfg, err := config.Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return cfg
}

func zeros(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "127.0.0.1:0"
	}
	return out
}

// start runs the named nodes of cfg (all when names is nil), logging to
// logs, and stops them when the test ends.
func start(t testing.TB, cfg *config.Config, names []string, logs *logBuf) *node.Herd {
	t.Helper()
	if names == nil {
		names = cfg.Names()
	}
	setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		return herd.NodeOptions{}, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})), nil
	}
	h, err := node.StartHerd(cfg, names, node.Options{Setup: setup, Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	return h
}

func stopMember(t testing.TB, m *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// view is a node's cache: client id to AT line.
func view(c *herd.Cache) map[string]string {
	out := map[string]string{}
	c.Range(func(id []byte, _ codec.Stamp, line []byte) bool {
		out[string(id)] = string(line)
		return true
	})
	return out
}

// converged reports whether every member holds the same view, with at
// least n clients.
func converged(ms []*node.Node, n int) bool {
	first := view(ms[0].Node.Cache())
	if len(first) < n {
		return false
	}
	for _, m := range ms[1:] {
		if m.Node.Cache().Len() != len(first) || !maps.Equal(view(m.Node.Cache()), first) {
			return false
		}
	}
	return true
}

// waitUntil polls cond until it holds or limit passes.
func waitUntil(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func iamat(client string, sec int64) string {
	return fmt.Sprintf("IAMAT %s +34.068930-118.445127 %d.000000001", client, sec)
}

func mustParse(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	return cfg
}
