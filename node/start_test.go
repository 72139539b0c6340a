package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

// TestStartOneNode runs Hamilton, then Alford alone with node.Start: Alford
// dials Hamilton at its configured address, an IAMAT sent to Alford reaches
// Hamilton, and Alford's Done closes on Stop with no error.
func TestStartOneNode(t *testing.T) {
	cfg := testConfig()
	h, err := node.StartHerd(cfg, []string{"Hamilton"}, node.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	ham := h.Node("Hamilton")
	for i := range cfg.Nodes {
		if cfg.Nodes[i].Name == "Hamilton" {
			cfg.Nodes[i].Listen, cfg.Nodes[i].Address = ham.Addr(), ham.Addr()
		}
	}
	alford, err := node.Start(node.Config{Herd: cfg, Name: "Alford", Options: node.Options{Loops: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if alford.Name() != "Alford" || alford.Addr() == "" {
		t.Fatalf("started %q at %q", alford.Name(), alford.Addr())
	}
	reply := testclient.Dial(t, alford.Addr()).Ask("IAMAT kiwi +34.068930-118.445127 100")
	testclient.Eventually(t, "Hamilton to hold Alford's update", func() bool { return ham.Node.Lookup([]byte("kiwi")) != nil })
	if e := ham.Node.Lookup([]byte("kiwi")); string(e.Line)+"\n" != reply {
		t.Errorf("Hamilton holds %q, Alford replied %q", e.Line, reply)
	}
	select {
	case <-alford.Done():
		t.Fatal("Done closed before Stop")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := alford.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-alford.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Stop")
	}
	if err := alford.Err(); err != nil {
		t.Errorf("Err after Stop: %v", err)
	}
}

// TestStartUnknownNode: Start refuses a name the config does not define.
func TestStartUnknownNode(t *testing.T) {
	if n, err := node.Start(node.Config{Herd: testConfig(), Name: "Nobody"}); err == nil {
		_ = n.Stop(context.Background())
		t.Fatal("started a node the config does not define")
	}
}
