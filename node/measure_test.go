//go:build unix

package node_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/snapshot"
)

// TestMeasureSnapshot measures what BENCHMARKS.md reports about snapshots of
// a million clients: size and write time, the p99 of a probe client's
// IAMAT round trips while snapshots are written back to back against
// without, and restart-to-ready (load) time. It takes a minute or two and
// about 1 GB of memory, so it runs only when asked:
//
//	HERD_SNAPSHOT_MEASURE=1 go test -run TestMeasureSnapshot -v ./node
//
// HERD_SNAPSHOT_CLIENTS overrides the million.
func TestMeasureSnapshot(t *testing.T) {
	if os.Getenv("HERD_SNAPSHOT_MEASURE") == "" || testing.Short() {
		t.Skip("set HERD_SNAPSHOT_MEASURE=1 to measure snapshots of a million clients")
	}
	clients := 1_000_000
	if s := os.Getenv("HERD_SNAPSHOT_CLIENTS"); s != "" {
		clients, _ = strconv.Atoi(s)
	}
	dataDir := t.TempDir()
	cfg := testConfig()

	// A node's cache with a million clients, as IAMATs would leave it.
	cache := herd.NewCache()
	node := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: cache})
	var cmd codec.Command
	for i := range clients {
		line := fmt.Sprintf("AT Alford +0.%09d client-%09d.cs.ucla.edu +34.068930-118.445127 1795698862.%09d", i%1e9, i, i%1e9)
		if err := codec.Parse([]byte(line), &cmd); err != nil {
			t.Fatal(err)
		}
		node.Update(nil, &cmd, "")
	}
	store, err := snapshot.Open(snapshot.Config{Dir: filepath.Join(dataDir, "Alford"), Node: "Alford"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Restore(); err != nil {
		t.Fatal(err)
	}
	store.Start(snapshot.Lines(cache))
	var writes []time.Duration
	var info snapshot.Info
	cpu0 := cpuTime()
	for range 5 {
		start := time.Now()
		if info, err = store.Save(); err != nil {
			t.Fatal(err)
		}
		writes = append(writes, time.Since(start))
	}
	writeCPU := (cpuTime() - cpu0) / 5
	store.Close()
	slices.Sort(writes)
	t.Logf("snapshot of %d clients: %d bytes (%.1f MiB, %.1f bytes/client); write (stream + fsync + rename + dir fsync) median %v, min %v, max %v over %d; CPU %v per write",
		info.Count, info.Bytes, float64(info.Bytes)/(1<<20), float64(info.Bytes)/float64(info.Count), writes[len(writes)/2].Round(time.Millisecond),
		writes[0].Round(time.Millisecond), writes[len(writes)-1].Round(time.Millisecond), len(writes), writeCPU.Round(time.Millisecond))

	// Restart-to-ready: Start returns once the node loaded its snapshot and
	// listens.
	var loads, readies []time.Duration
	restored := map[string]snapshot.Restored{}
	var loadCPU time.Duration
	for range 3 {
		start, cpu0 := time.Now(), cpuTime()
		h := startHerd(t, cfg, dataDir, restored, "Alford")
		readies = append(readies, time.Since(start))
		loadCPU += cpuTime() - cpu0
		loads = append(loads, restored["Alford"].Took)
		if n := h.Node("Alford").Node.Cache().Len(); n != clients {
			t.Fatalf("restored %d clients, want %d", n, clients)
		}
		stopHerd(t, h)
	}
	loadCPU /= 3
	slices.Sort(loads)
	slices.Sort(readies)
	t.Logf("restart to ready with %d clients: median %v (load %v), min %v, max %v over %d; CPU %v per start (GC included)", clients,
		readies[1].Round(time.Millisecond), loads[1].Round(time.Millisecond), readies[0].Round(time.Millisecond), readies[2].Round(time.Millisecond), len(readies),
		loadCPU.Round(time.Millisecond))

	// Probe p99: a client doing IAMAT round trips, alternately without and
	// with snapshots written back to back, in rounds.
	h := startHerd(t, cfg, dataDir, nil, "Alford")
	m := h.Node("Alford")
	conn, err := net.DialTimeout("tcp", m.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	seq := 0
	probe := func(d time.Duration) []time.Duration {
		var lat []time.Duration
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			seq++
			req := fmt.Sprintf("IAMAT probe +34.068930-118.445127 1895698862.%09d\n", seq)
			start := time.Now()
			conn.SetDeadline(start.Add(10 * time.Second))
			if _, err := conn.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			if _, err := r.ReadSlice('\n'); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		return lat
	}
	probe(time.Second) // warm up
	const rounds, span = 3, 5 * time.Second
	var without, during []time.Duration
	snaps := 0
	for range rounds {
		without = append(without, probe(span)...)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := m.Snapshot.Save(); err != nil {
					t.Error(err)
					return
				}
				snaps++
			}
		})
		during = append(during, probe(span)...)
		close(stop)
		wg.Wait()
	}
	stopHerd(t, h)
	q := func(lat []time.Duration, p float64) time.Duration {
		slices.Sort(lat)
		return lat[int(float64(len(lat)-1)*p)]
	}
	for _, s := range []struct {
		name string
		lat  []time.Duration
	}{{"without snapshot", without}, {fmt.Sprintf("during %d snapshots", snaps), during}} {
		t.Logf("probe IAMAT round trip %s (%d clients held, %d round trips): p50 %v, p99 %v, p99.9 %v, max %v",
			s.name, clients, len(s.lat), q(s.lat, 0.5), q(s.lat, 0.99), q(s.lat, 0.999), q(s.lat, 1))
	}
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
