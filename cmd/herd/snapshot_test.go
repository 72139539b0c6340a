package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/snapshot"
)

// withPersistence appends a snapshot interval to the config at path.
func withPersistence(t *testing.T, path string, interval time.Duration) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "persistence: {snapshot_interval: %v}\n", interval); err != nil {
		t.Fatal(err)
	}
}

// snapshotCount reads the snapshot at path (written by node) and returns
// its entries but the readiness probes' own clients (herd-test-NAME), or -1
// if there is none yet or it does not read.
func snapshotCount(path, node string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	probes := 0
	info, err := snapshot.Read(bytes.NewReader(data), node, func(cmd *codec.Command, _ []byte) {
		if bytes.HasPrefix(cmd.ClientID, []byte("herd-test-")) {
			probes++
		}
	})
	if err != nil {
		return -1
	}
	return info.Count - probes
}

// reportMany reports n clients at addr on one connection and returns
// client -> the AT line the node answered.
func reportMany(t *testing.T, origin, addr, prefix string, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		client := fmt.Sprintf("%s-%d", prefix, i)
		want[client] = iamat(t, origin, addr, client)
	}
	return want
}

// A node killed with SIGKILL after a snapshot interval restores, from that
// snapshot, every client it knew then, byte for byte.
func TestSnapshotSurvivesSIGKILL(t *testing.T) {
	bin := herdBinary(t)
	dir := t.TempDir()
	cfg, addrs := writeRingConfig(t, dir, freePorts(t, len(ringNames)))
	withPersistence(t, cfg, 200*time.Millisecond)
	h := &ringHerd{bin: bin, cfg: cfg, logDir: filepath.Join(dir, "logs"), addrs: addrs, procs: map[string]*proc{}}
	dataDir := filepath.Join(dir, "data")
	args := append(h.serveArgs("Alford"), "--data-dir", dataDir)
	start := func() *proc {
		p := startProc(t, "Alford", bin, args...)
		if err := waitNode(p, "Alford", addrs["Alford"]); err != nil {
			if errors.Is(err, errPortTaken) {
				t.Skip("Alford's port was taken by another process")
			}
			t.Fatal(err)
		}
		return p
	}

	// Alford runs alone: no neighbour could give anything back.
	p := start()
	// A second process on the same data directory is refused before it
	// touches the snapshot.
	twin := startProc(t, "Alford-twin", bin, args...)
	if !twin.wait(waitLimit) || twin.exitCode() != 1 || !strings.Contains(twin.stderr.String(), "data directory") ||
		!strings.Contains(twin.stderr.String(), "in use") {
		t.Fatalf("a second node on the same data directory: want exit 1 naming the directory in use\n%s", twin.describe())
	}
	want := reportMany(t, "Alford", addrs["Alford"], "kiwi", 50)
	path := filepath.Join(dataDir, snapshot.FileName)
	deadline := time.Now().Add(waitLimit)
	for snapshotCount(path, "Alford") != len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot with %d clients at %s within %v\n%s", len(want), path, waitLimit, p.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill(t)

	p = start()
	out := waitOutput(t, p, "telnet")
	// The 50 clients and the readiness probe's own (herd-test-Alford).
	if !strings.Contains(out, "clients restored: Alford 51") {
		t.Errorf("stdout does not report the restore:\n%s", out)
	}
	for client, line := range want {
		if got, err := heldLine(addrs["Alford"], client); err != nil || got != line {
			t.Fatalf("after SIGKILL and restart Alford holds %q for %s, want %q (%v)", got, client, line, err)
		}
	}
	waitLogMsg(t, h.logDir, "Alford", "snapshot loaded")
}

// herd up --data-dir DIR keeps each node in DIR/NAME; after a SIGTERM of
// the whole herd, every node restores every client, byte for byte.
func TestUpDataDirRestart(t *testing.T) {
	bin := herdBinary(t)
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		cfg, addrs := writeRingConfig(t, dir, freePorts(t, len(ringNames)))
		dataDir := filepath.Join(dir, "data")
		args := []string{"up", "--config", cfg, "--log-dir", filepath.Join(dir, "logs"), "--data-dir", dataDir}
		p := startProc(t, "up", bin, args...)
		if err := waitUpTable(p); err != nil {
			p.kill(t)
			if errors.Is(err, errPortTaken) && attempt < 3 {
				continue
			}
			t.Fatal(err)
		}
		want := map[string]string{}
		for _, name := range ringNames {
			for c, l := range reportMany(t, name, addrs[name], "at-"+name, 4) {
				want[c] = l
			}
		}
		for _, name := range ringNames {
			for c, l := range want {
				waitHeld(t, name, addrs[name], c, l)
			}
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if !p.wait(waitLimit) || p.exitCode() != 0 {
			t.Fatalf("herd up did not exit cleanly after SIGTERM\n%s", p.describe())
		}
		for _, name := range ringNames {
			if n := snapshotCount(filepath.Join(dataDir, name, snapshot.FileName), name); n != len(want) {
				t.Fatalf("%s/%s/snapshot holds %d clients, want %d", dataDir, name, n, len(want))
			}
		}

		p = startProc(t, "up", bin, args...)
		if err := waitUpTable(p); err != nil {
			t.Fatal(err)
		}
		if out := p.stdout.String(); !strings.Contains(out, "snapshots in "+filepath.Join(dataDir, "NAME", "snapshot")) ||
			!strings.Contains(out, "Alford 20, Ball 20") {
			t.Errorf("stdout does not report the snapshots:\n%s", out)
		}
		for _, name := range ringNames {
			for c, l := range want {
				if got, err := heldLine(addrs[name], c); err != nil || got != l {
					t.Fatalf("%s holds %q for %s after the restart, want %q (%v)", name, got, c, l, err)
				}
			}
		}
		return
	}
}
