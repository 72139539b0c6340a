package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestSumFamily(t *testing.T) {
	body := []byte(`# HELP herd_peer_updates_dropped_total Updates dropped.
# TYPE herd_peer_updates_dropped_total counter
herd_peer_updates_dropped_total{peer="Hamilton"} 12
herd_peer_updates_dropped_total{peer="Welsh"} 30
herd_peer_updates_dropped_total_other 99
herd_clients 7
`)
	if v, ok := sumFamily(body, "herd_peer_updates_dropped_total"); !ok || v != 42 {
		t.Errorf("dropped: %v %v, want 42 true", v, ok)
	}
	if v, ok := sumFamily(body, "herd_clients"); !ok || v != 7 {
		t.Errorf("clients: %v %v, want 7 true", v, ok)
	}
	if _, ok := sumFamily(body, "herd_peer_pending"); ok {
		t.Error("found a family that is not there")
	}
}

func TestPollLine(t *testing.T) {
	ns := int64(1_700_000_000_123_456_789)
	if got, want := string(pollLine(nil, "probe-1", ns)), "IAMAT probe-1 "+probeLoc+" 1699999999.123456789\n"; got != want {
		t.Errorf("pollLine = %q, want %q", got, want)
	}
	if back, err := parseStamp(probeStamp(ns)); err != nil || back != ns {
		t.Errorf("parseStamp(probeStamp) = %d, %v", back, err)
	}
	if !holds([]byte("AT Alford +0.001 probe-1 +1+1 1700000000.123456789\n"), "1700000000.123456789") {
		t.Error("holds missed the update")
	}
	if holds([]byte("AT Ball +0.001 probe-1 +1+1 1699999999.123456789\n"), "1700000000.123456789") {
		t.Error("holds took the poll's own line for the update")
	}
}

// fakeHerd is two line servers sharing a cache, standing in for Alford and
// Ball: an IAMAT at Alford becomes visible at Ball after delay (never, if
// delay < 0). Like a node, Ball answers an IAMAT that is not newer than what
// it holds with the held line, and stores one that is.
type fakeHerd struct {
	delay  time.Duration
	mu     sync.Mutex
	seenAt map[string]time.Time // client -> when Alford got it
	times  map[string]string    // client -> Alford's time field
	held   map[string]string    // client -> Ball's own stored line
	lns    []net.Listener
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFakeHerd(t *testing.T, delay time.Duration) (f *fakeHerd, alford, ball string) {
	f = &fakeHerd{delay: delay, seenAt: map[string]time.Time{}, times: map[string]string{}, held: map[string]string{}}
	for _, name := range []string{"Alford", "Ball"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f.lns = append(f.lns, ln)
		f.wg.Add(1)
		go f.serve(ln, name)
	}
	t.Cleanup(func() {
		for _, ln := range f.lns {
			ln.Close()
		}
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f, f.lns[0].Addr().String(), f.lns[1].Addr().String()
}

func (f *fakeHerd) serve(ln net.Listener, name string) {
	defer f.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				fl := strings.Fields(line) // IAMAT client loc time
				f.mu.Lock()
				var reply string
				if name == "Alford" {
					f.seenAt[fl[1]], f.times[fl[1]] = time.Now(), fl[3]
					reply = fmt.Sprintf("AT Alford +0 %s %s %s\n", fl[1], fl[2], fl[3])
				} else if at, ok := f.seenAt[fl[1]]; ok && f.delay >= 0 && time.Since(at) >= f.delay {
					reply = fmt.Sprintf("AT Alford +0 %s %s %s\n", fl[1], fl[2], f.times[fl[1]])
				} else {
					if _, ok := f.held[fl[1]]; !ok {
						f.held[fl[1]] = fmt.Sprintf("AT Ball +0 %s %s %s\n", fl[1], fl[2], fl[3])
					}
					reply = f.held[fl[1]]
				}
				f.mu.Unlock()
				if _, err := c.Write([]byte(reply)); err != nil {
					return
				}
			}
		}()
	}
}

// The probe measures the time until the far node shows the update, not the
// time until it answers: a herd that delays propagation by 30 ms shows at
// least 30 ms at every percentile, and one that never propagates loses
// every probe instead of reporting the poll's own line as a success.
func TestProbeMeasuresVisibility(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after every other cleanup
	_, alford, ball := newFakeHerd(t, 30*time.Millisecond)
	ho := HerdOptions{ProbeInterval: 10 * time.Millisecond, Duration: 200 * time.Millisecond, ProbeTimeout: 2 * time.Second, PollInterval: 100 * time.Microsecond}
	st, err := probe(alford, ball, "t", ho)
	if err != nil {
		t.Fatal(err)
	}
	if st.Probes < 10 || st.Lost != 0 {
		t.Fatalf("%+v: want at least 10 probes, none lost", st)
	}
	if st.P50us < 30000 || st.P50us > 1e6 {
		t.Errorf("p50 %v µs with a 30 ms delay", st.P50us)
	}

	_, alford, ball = newFakeHerd(t, -1)
	ho = HerdOptions{ProbeInterval: 20 * time.Millisecond, Duration: 100 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond}
	st, err = probe(alford, ball, "t", ho)
	if err != nil {
		t.Fatal(err)
	}
	if st.Probes == 0 || st.Lost != st.Probes {
		t.Errorf("%+v: every probe should be lost", st)
	}
}

func buildBench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "herd-bench")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/herd-bench").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestHerdCellTiny runs the herd cell at tiny size on every herd engine
// this machine has (the Twisted and Node.js peers are skipped when missing,
// as .ci/run installs neither): each herd must answer every IAMAT, report
// CPU per update, and carry every probe from Alford to Ball.
func TestHerdCellTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds herd-bench and starts five-process herds")
	}
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after every other cleanup
	o := &Options{Herd: buildBench(t), Log: os.Stderr, Command: "test"}
	ho := DefaultHerdOptions()
	tinyHerd(o, &ho)
	res, err := Herd(t.Context(), o, ho, HerdEngines)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, c := range res.Cells {
		ran = append(ran, c.Engine)
		if c.Failed != "" || c.Closed.RPS <= 0 || c.Closed.CPUusPerUp <= 0 || c.Prop.Probe.Probes == 0 || c.Prop.Probe.Lost != 0 {
			t.Errorf("%s: %+v", c.Engine, c)
		}
		// Herd's links export their pending sets (they have no drop
		// path); Twisted and Node.js export nothing.
		if herdEngine := c.Engine == "gnet" || c.Engine == "goroutine"; herdEngine != c.Closed.LinksSampled {
			t.Errorf("%s: links sampled %v", c.Engine, c.Closed.LinksSampled)
		}
	}
	if len(ran) < 2 {
		t.Fatalf("ran %v, want at least gnet and goroutine", ran)
	}
	t.Logf("herd engines run: %v", ran)
	report := HerdReport(res, nil)
	for _, e := range ran {
		if !strings.Contains(report, "\n| "+e+" | ") {
			t.Errorf("report lacks a row for %s:\n%s", e, report)
		}
	}
	dir := t.TempDir()
	charts, err := HerdCharts(res, dir, dir)
	if err != nil || len(charts) != 3 {
		t.Fatalf("charts %v, %v", charts, err)
	}
	for _, c := range charts {
		if b, err := os.ReadFile(filepath.Join(dir, c.File)); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG (%v)", c.File, err)
		}
	}
}

// TestPropagationTiny runs `herd-bench propagation`'s measurement at tiny
// size: capacity, then an idle and a loaded level, each with probes and
// the links' pending sets sampled.
func TestPropagationTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds herd-bench and starts a five-process herd")
	}
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after every other cleanup
	o := &Options{Herd: buildBench(t), Log: os.Stderr, Command: "test"}
	ho := DefaultHerdOptions()
	tinyHerd(o, &ho)
	ho.Levels = []float64{0, 0.5}
	res, err := Propagation(t.Context(), o, ho, "gnet")
	if err != nil {
		t.Fatal(err)
	}
	if res.Capacity.RPS <= 0 || !res.Capacity.LinksSampled || len(res.Levels) != 2 {
		t.Fatalf("%+v", res)
	}
	if res.Levels[0].Level != 0 || res.Levels[1].Level != 0.5 {
		t.Errorf("levels ran as %v, %v: want 0, 0.5", res.Levels[0].Level, res.Levels[1].Level)
	}
	for _, lr := range res.Levels {
		if lr.Failed != "" || lr.Probe.Probes == 0 || lr.Probe.Lost != 0 || lr.AgreeSec < 0 || (lr.Level > 0 && !lr.Load.LinksSampled) {
			t.Errorf("level %v: %+v", lr.Level, lr)
		}
	}
	if l := res.Levels[1]; l.Load.Requests == 0 || l.Rate != 0.5*res.Capacity.RPS {
		t.Errorf("loaded level: %+v", l)
	}
	report := PropagationReport(res, "")
	for _, want := range []string{"| idle |", "| 50% |", "Goal at 50%"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// A herd section never replaces the generated report in BENCHMARKS.md; a
// plain file gets it as it is.
func TestWriteSection(t *testing.T) {
	dir := t.TempDir()
	bench := filepath.Join(dir, "BENCHMARKS.md")
	doc := spliceReport("", "# Herd benchmarks\n\nmatrix\n")
	if err := os.WriteFile(bench, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection("## herd\n", bench, nil); err == nil {
		t.Error("wrote a herd section over the generated report")
	}
	if b, _ := os.ReadFile(bench); string(b) != doc {
		t.Errorf("BENCHMARKS.md changed:\n%s", b)
	}
	plain := filepath.Join(dir, "herd.md")
	if err := writeSection("## herd\n", plain, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "## herd\n" {
		t.Errorf("herd.md = %q", b)
	}
}

// A herd's ten ports are distinct: a node whose admin port equals another
// port of the herd does not start.
func TestFreePortsDistinct(t *testing.T) {
	for range 20 {
		ports, err := freePorts(10)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, p := range ports {
			if seen[p] {
				t.Fatalf("port %d twice in %v", p, ports)
			}
			seen[p] = true
		}
	}
}
