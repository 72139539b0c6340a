package node_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/snapshot"
)

var allNodes = []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}

// startHerd starts names with their data in dataDir/NAME.
func startHerd(t *testing.T, cfg *config.Config, dataDir string, restored map[string]snapshot.Restored, names ...string) *node.Herd {
	t.Helper()
	o := node.Options{Loops: 2, DataDir: func(name string) string { return filepath.Join(dataDir, name) }}
	if restored != nil {
		o.Restored = func(name string, r snapshot.Restored) { restored[name] = r }
	}
	h, err := node.StartHerd(cfg, names, o)
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	return h
}

func stopHerd(t *testing.T, h *node.Herd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// report sends n IAMATs, client i to node i%len(members), pipelined on one
// connection per node, and reads every reply.
func report(t *testing.T, h *node.Herd, n int) {
	t.Helper()
	conns := make([]*testclient.Client, len(h.Nodes))
	for i, m := range h.Nodes {
		conns[i] = testclient.Dial(t, m.Addr())
	}
	var b [5]strings.Builder
	counts := make([]int, len(conns))
	for i := range n {
		k := i % len(conns)
		fmt.Fprintf(&b[k], "IAMAT client-%d +34.068930-118.445127 1795698862.%09d\n", i, i)
		counts[k]++
	}
	for k, c := range conns {
		c.Send(b[k].String())
		for range counts[k] {
			if l := c.Line(); !strings.HasPrefix(l, "AT ") {
				t.Fatalf("IAMAT answered %q", l)
			}
		}
	}
}

// view is client id -> AT line of everything a node holds.
func view(m *node.Node) map[string]string {
	got := map[string]string{}
	var cmd codec.Command
	for line := range snapshot.Lines(m.Node.Cache()) {
		if codec.Parse(line, &cmd) == nil {
			got[string(cmd.ClientID)] = string(line)
		}
	}
	return got
}

// converge waits until every member holds exactly want.
func converge(t *testing.T, h *node.Herd, want map[string]string) {
	t.Helper()
	for _, m := range h.Nodes {
		testclient.Eventually(t, m.Node.Name()+" holding every client", func() bool { return maps.Equal(view(m), want) })
	}
}

// Without snapshots, 1,000 clients known before a whole-herd restart are
// all forgotten after it. With a data directory every node restores every client,
// byte for byte, from its own snapshot, before it listens.
func TestWholeHerdRestartRestoresEveryClient(t *testing.T) {
	const clients = 1000
	dataDir := t.TempDir()
	cfg := testConfig()
	h := startHerd(t, cfg, dataDir, nil, allNodes...)
	report(t, h, clients)
	testclient.Eventually(t, "Alford holding every client", func() bool { return h.Node("Alford").Node.Cache().Len() == clients })
	want := view(h.Node("Alford"))
	converge(t, h, want)
	stopHerd(t, h)
	for _, name := range allNodes {
		if _, err := os.Stat(filepath.Join(dataDir, name, snapshot.FileName)); err != nil {
			t.Fatalf("%s wrote no snapshot on stop: %v", name, err)
		}
	}

	// One node alone, with no neighbour to learn from: its snapshot has it all.
	alone := startHerd(t, cfg, dataDir, nil, "Ball")
	if got := view(alone.Node("Ball")); !maps.Equal(got, want) {
		t.Fatalf("Ball alone restored %d clients, want %d byte for byte", len(got), len(want))
	}
	stopHerd(t, alone)

	// The whole herd: every node holds every client when Start returns.
	restored := map[string]snapshot.Restored{}
	h = startHerd(t, cfg, dataDir, restored, allNodes...)
	for _, m := range h.Nodes {
		name := m.Node.Name()
		if got := view(m); !maps.Equal(got, want) {
			t.Errorf("%s restored %d clients, want %d byte for byte", name, len(got), len(want))
		}
		r := restored[name]
		if r.Rejected != nil || r.Info.Count != clients || r.Info.Node != name || m.Restored.Info != r.Info {
			t.Errorf("%s: Restored %+v (member %+v)", name, r, m.Restored)
		}
	}
	// And answers for them over TCP, byte for byte.
	c := testclient.Dial(t, h.Node("Holiday").Addr())
	if got := c.Ask("IAMAT client-7 +0.0+0.0 0"); got != want["client-7"]+"\n" {
		t.Fatalf("Holiday answers %q, want %q", got, want["client-7"])
	}
	stopHerd(t, h)
}

// A corrupted snapshot is survived: the node starts empty, the file is
// moved aside, and its neighbours' push on link up gives it every client.
func TestCorruptSnapshotRepairedByNeighbours(t *testing.T) {
	const clients = 300
	dataDir := t.TempDir()
	cfg := testConfig()
	h := startHerd(t, cfg, dataDir, nil, allNodes...)
	report(t, h, clients)
	testclient.Eventually(t, "Alford holding every client", func() bool { return h.Node("Alford").Node.Cache().Len() == clients })
	want := view(h.Node("Alford"))
	converge(t, h, want)
	stopHerd(t, h)

	path := filepath.Join(dataDir, "Hamilton", snapshot.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	restored := map[string]snapshot.Restored{}
	h = startHerd(t, cfg, dataDir, restored, allNodes...)
	r := restored["Hamilton"]
	if r.Rejected == nil || r.Info.Count != 0 {
		t.Fatalf("Hamilton loaded a corrupted snapshot: %+v", r)
	}
	if moved, err := os.ReadFile(r.MovedTo); err != nil || string(moved) != string(data) ||
		!strings.HasPrefix(filepath.Base(r.MovedTo), "snapshot.corrupt-") {
		t.Fatalf("corrupted file not moved aside intact to snapshot.corrupt-*: %q, %v", r.MovedTo, err)
	}
	for _, name := range []string{"Alford", "Ball", "Holiday", "Welsh"} {
		if restored[name].Info.Count != clients {
			t.Errorf("%s restored %+v", name, restored[name])
		}
	}
	converge(t, h, want) // Hamilton too, through Alford's and Holiday's push
	stopHerd(t, h)

	// Its next snapshot is whole again.
	h = startHerd(t, cfg, dataDir, nil, "Hamilton")
	if got := view(h.Node("Hamilton")); !maps.Equal(got, want) {
		t.Fatalf("Hamilton's snapshot after repair holds %d clients, want %d", len(got), len(want))
	}
	stopHerd(t, h)
}

// A node without a data directory writes nothing and reports no restore.
func TestNoDataDirNoSnapshot(t *testing.T) {
	cfg := testConfig()
	h, err := node.StartHerd(cfg, []string{"Alford"}, node.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	if m := h.Node("Alford"); m.Snapshot != nil || m.Restored != (snapshot.Restored{}) {
		t.Fatalf("member without a data dir has %+v, %+v", m.Snapshot, m.Restored)
	}
}

// An unusable data directory stops Start with an error, and nothing leaks.
func TestUnusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := node.StartHerd(testConfig(), []string{"Alford", "Ball"}, node.Options{Loops: 1,
		DataDir: func(name string) string {
			if name == "Ball" {
				return filepath.Join(file, name) // under a regular file
			}
			return filepath.Join(filepath.Dir(file), name)
		}})
	if err == nil || !strings.Contains(err.Error(), "data directory") {
		t.Fatalf("Start = %v, want a data directory error", err)
	}
}
