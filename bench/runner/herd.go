package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herdnet/herd/bench/load"
)

// The five-node topology of the course protocol (herd/default.yaml): every
// link is two-way, and Alford and Ball are two hops apart.
var (
	fiveNames = []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	fiveLinks = [][2]string{{"Alford", "Hamilton"}, {"Alford", "Welsh"}, {"Ball", "Holiday"}, {"Ball", "Welsh"}, {"Hamilton", "Holiday"}}
)

// HerdEngines are the engines a five-node herd can be built from: the gnet
// node, the goroutine-per-connection baseline (both `herd-bench serve`, one
// process per node) and the Twisted and Node.js peers, which flood too.
var HerdEngines = []string{"gnet", "goroutine", "twisted", "node"}

// herdNode is one node of a running herd, in its own process.
type herdNode struct {
	name  string
	addr  string // client port
	admin string // admin port (metrics) of a Herd node; "" for the peers
	cmd   *exec.Cmd
	// stderr keeps what the process wrote there, read only after it ended.
	stderr bytes.Buffer
}

// herdRun is a running five-node herd of one engine.
type herdRun struct {
	engine string
	nodes  []*herdNode
}

// node returns the named node.
func (h *herdRun) node(name string) *herdNode {
	for _, n := range h.nodes {
		if n.name == name {
			return n
		}
	}
	panic("runner: no node " + name)
}

// neighbours lists name's neighbours in the five-node topology.
func neighbours(name string) []string {
	var out []string
	for _, l := range fiveLinks {
		switch name {
		case l[0]:
			out = append(out, l[1])
		case l[1]:
			out = append(out, l[0])
		}
	}
	return out
}

// startHerd starts five processes of engine on free loopback ports, linked
// as the five-node topology, and waits until an update entered at any node
// reaches every other one. It tries three times: a free port found by
// listening and closing can be taken by another process before the node
// binds it.
func startHerd(o *Options, ho HerdOptions, engine, dir string) (*herdRun, error) {
	var err error
	for range 3 {
		var h *herdRun
		if h, err = startHerdOnce(o, ho, engine, dir); err == nil {
			return h, nil
		}
		fmt.Fprintf(o.Log, "(start failed, trying again: %v) ", err)
	}
	return nil, err
}

func startHerdOnce(o *Options, ho HerdOptions, engine, dir string) (*herdRun, error) {
	if err := Available(engine); err != nil {
		return nil, err
	}
	h := &herdRun{engine: engine}
	ports, err := freePorts(2 * len(fiveNames))
	if err != nil {
		return nil, err
	}
	addr, admin := map[string]string{}, map[string]string{}
	for i, n := range fiveNames {
		addr[n] = "127.0.0.1:" + strconv.Itoa(ports[2*i])
		admin[n] = "127.0.0.1:" + strconv.Itoa(ports[2*i+1])
	}
	cfg := filepath.Join(dir, "herd-"+engine+".yaml")
	if engine == "gnet" || engine == "goroutine" {
		var b strings.Builder
		b.WriteString("nodes:\n")
		for _, n := range fiveNames {
			fmt.Fprintf(&b, "  - name: %s\n    listen: %s\n    admin: %s\n    neighbors: [%s]\n", n, addr[n], admin[n], strings.Join(neighbours(n), ", "))
		}
		if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
	}
	for _, n := range fiveNames {
		port := addr[n][strings.LastIndexByte(addr[n], ':')+1:]
		var nbArgs []string
		for _, nb := range neighbours(n) {
			nbArgs = append(nbArgs, "--neighbor", addr[nb])
		}
		hn := &herdNode{name: n, addr: addr[n]}
		switch engine {
		case "gnet", "goroutine":
			hn.admin = admin[n]
			args := append([]string{"serve", n, "--config", cfg, "--engine", engine, "--log-level", "warn", "--log-dir", dir}, ho.ServeFlags...)
			hn.cmd = exec.Command(o.Herd, args...)
		case "twisted":
			hn.cmd = exec.Command("/usr/bin/python3", append([]string{filepath.Join(repoRoot(), "bench/peers/twisted/herd_node.py"), n, "--port", port}, nbArgs...)...)
		case "node":
			hn.cmd = exec.Command("node", append([]string{filepath.Join(repoRoot(), "bench/peers/node/herd_node.js"), n, "--port", port}, nbArgs...)...)
		default:
			h.stop()
			return nil, fmt.Errorf("engine %q cannot form a herd (want one of %s)", engine, strings.Join(HerdEngines, ", "))
		}
		hn.cmd.Stdout, hn.cmd.Stderr = io.Discard, &hn.stderr
		hn.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := hn.cmd.Start(); err != nil {
			h.stop()
			return nil, fmt.Errorf("%s %s: %w", engine, n, err)
		}
		h.nodes = append(h.nodes, hn)
	}
	if err := h.ready(30 * time.Second); err != nil {
		h.stop()
		var said []string
		for _, n := range h.nodes {
			if b := bytes.TrimSpace(n.stderr.Bytes()); len(b) > 0 {
				said = append(said, fmt.Sprintf("%s said %q", n.name, b[max(0, len(b)-300):]))
			}
		}
		if len(said) > 0 {
			err = fmt.Errorf("%w (%s)", err, strings.Join(said, "; "))
		}
		return nil, fmt.Errorf("%s herd: %w", engine, err)
	}
	return h, nil
}

// ready waits until every node accepts and an update entered at each node
// is held by all the others.
func (h *herdRun) ready(within time.Duration) error {
	deadline := time.Now().Add(within)
	conns := map[string]net.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, n := range h.nodes {
		c, err := dialUntil(n.addr, deadline)
		if err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		_ = c.SetDeadline(deadline)
		conns[n.name] = c
	}
	readers := map[string]*bufio.Reader{}
	for name, c := range conns {
		readers[name] = bufio.NewReader(c)
	}
	stamp := time.Now().UnixNano()
	for i, from := range h.nodes {
		client := fmt.Sprintf("ready-%d-%s", stamp, from.name)
		t := probeStamp(stamp + int64(i))
		if _, err := fmt.Fprintf(conns[from.name], "IAMAT %s %s %s\n", client, probeLoc, t); err != nil {
			return err
		}
		if _, err := readers[from.name].ReadSlice('\n'); err != nil {
			return fmt.Errorf("%s: %w", from.name, err)
		}
		for _, to := range h.nodes {
			if to == from {
				continue
			}
			for {
				held, err := poll(conns[to.name], readers[to.name], client, t)
				if err != nil {
					return fmt.Errorf("%s: %w", to.name, err)
				}
				if held {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("an update entered at %s did not reach %s within %v", from.name, to.name, within)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	return nil
}

// freePorts returns n distinct free loopback ports: it holds every
// listener open until all n are chosen (one at a time, the kernel may hand
// out a port just closed again).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func dialUntil(addr string, deadline time.Time) (net.Conn, error) {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends every node's process (SIGTERM, then SIGKILL to its group).
func (h *herdRun) stop() {
	var wg sync.WaitGroup
	for _, n := range h.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&server{cmd: n.cmd}).stop()
		}()
	}
	wg.Wait()
}

// cpu is the CPU time (user plus system, seconds) of the five processes.
func (h *herdRun) cpu() (float64, error) {
	var sum float64
	for _, n := range h.nodes {
		c, _, err := load.ProcStats(n.cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		sum += c
	}
	return sum, nil
}

// metric sums one metric family over the five nodes' /metrics (all label
// sets). ok is false for engines without metrics, or when no node exports
// the family.
func (h *herdRun) metric(family string) (sum float64, ok bool) {
	for _, n := range h.nodes {
		if n.admin == "" {
			return 0, false
		}
		v, found, err := scrape(n.admin, family)
		if err != nil {
			return 0, false
		}
		sum += v
		ok = ok || found
	}
	return sum, ok
}

// linkPeaks are the most a herd's links held waiting while it was loaded.
type linkPeaks struct {
	pending, lag float64
	sampled      bool
}

// sampleLinks scrapes every node every 250 ms until stop is closed and
// returns the largest sum of herd_peer_pending over the nodes and the
// largest herd_peer_lag_seconds of any link.
func (h *herdRun) sampleLinks(stop <-chan struct{}) linkPeaks {
	var pk linkPeaks
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return pk
		case <-tick.C:
		}
		var pending float64
		for _, n := range h.nodes {
			if n.admin == "" {
				return pk
			}
			body, err := scrapeBody(n.admin)
			if err != nil {
				continue
			}
			if v, ok := sumFamily(body, "herd_peer_pending"); ok {
				pending += v
				pk.sampled = true
			}
			if v, ok := maxFamily(body, "herd_peer_lag_seconds"); ok {
				pk.lag = max(pk.lag, v)
			}
		}
		pk.pending = max(pk.pending, pending)
	}
}

// metricsClient scrapes the nodes' admin ports; a scrape every 100 ms at
// most needs no kept-alive connections (nor their goroutines).
var metricsClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// scrapeBody reads http://admin/metrics.
func scrapeBody(admin string) ([]byte, error) {
	resp, err := metricsClient.Get("http://" + admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// scrape reads http://admin/metrics and sums the samples of family.
func scrape(admin, family string) (sum float64, found bool, err error) {
	body, err := scrapeBody(admin)
	if err != nil {
		return 0, false, err
	}
	sum, found = sumFamily(body, family)
	return sum, found, nil
}

// sumFamily sums the samples of one metric family in Prometheus text
// format: lines "family value" and "family{labels} value".
func sumFamily(body []byte, family string) (sum float64, found bool) {
	eachSample(body, family, func(v float64) { sum += v; found = true })
	return sum, found
}

// maxFamily is the largest sample of family in a /metrics body.
func maxFamily(body []byte, family string) (m float64, found bool) {
	eachSample(body, family, func(v float64) {
		if !found || v > m {
			m = v
		}
		found = true
	})
	return m, found
}

// eachSample calls f with the value of every sample of family.
func eachSample(body []byte, family string, f func(v float64)) {
	for _, line := range bytes.Split(body, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(family))
		if !ok || len(rest) == 0 || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := bytes.LastIndexByte(rest, ' '); i >= 0 {
			if v, err := strconv.ParseFloat(string(rest[i+1:]), 64); err == nil {
				f(v)
			}
		}
	}
}

// herdLoad is the outcome of one load spread over the five nodes.
type herdLoad struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	RPS        float64 `json:"rps"`                 // sum of the five generators' throughput
	CPUusPerUp float64 `json:"herd_cpu_us_per_req"` // the five processes' CPU per client update
	P99us      float64 `json:"client_p99_us"`       // the worst generator's p99
	// Dropped is the growth of herd_peer_updates_dropped_total over the
	// five nodes during the run; DropsCounted is false when the engine
	// exports no such counter.
	Dropped      float64 `json:"dropped"`
	DropsCounted bool    `json:"drops_counted"`
	// PeakPending is the most updates the five nodes' links held waiting at
	// once (the sum of herd_peer_pending, sampled every 250 ms during the
	// run) and PeakLagSec the oldest wait seen on any link
	// (herd_peer_lag_seconds); LinksSampled is false when the engine
	// exports neither.
	PeakPending  float64 `json:"peak_pending"`
	PeakLagSec   float64 `json:"peak_lag_s"`
	LinksSampled bool    `json:"links_sampled"`
	// Examples are a few of the generators' wrong or missing replies.
	Examples []string `json:"error_examples,omitempty"`
	Failed   string   `json:"failed,omitempty"`
}

// loadHerd runs five `herd-bench load` processes at once, one per node
// (client prefixes n0- to n4-, so no two report the same client), with
// conns connections and the pipeline each; rate > 0 is an open-loop total
// split evenly. It samples the herd's CPU when the warm-up ends and after
// the last generator exits.
func loadHerd(o *Options, h *herdRun, conns, pipeline int, rate float64, d time.Duration) herdLoad {
	var (
		mu      sync.Mutex
		results []load.Result
		fails   []string
		wg      sync.WaitGroup
		cpu0    float64
		cpuErr  error
		names   []string // error examples, each prefixed by its node
	)
	drop0, counted := h.metric("herd_peer_updates_dropped_total")
	sampled := make(chan struct{})
	cpuTimer := time.AfterFunc(o.Warmup, func() { cpu0, cpuErr = h.cpu(); close(sampled) })
	for i, n := range h.nodes {
		args := []string{"load", "--addr", n.addr, "--conns", strconv.Itoa(conns), "--pipeline", strconv.Itoa(pipeline),
			"--duration", d.String(), "--warmup", o.Warmup.String(), "--mix", "herd", "--prefix", "n" + strconv.Itoa(i) + "-", "--json"}
		if rate > 0 {
			args = append(args, "--rate", strconv.FormatFloat(rate/float64(len(h.nodes)), 'f', 1, 64))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errb bytes.Buffer
			cmd := exec.Command(o.Herd, args...)
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var res load.Result
			jerr := json.Unmarshal(out.Bytes(), &res)
			mu.Lock()
			defer mu.Unlock()
			if jerr != nil {
				fails = append(fails, fmt.Sprintf("%s: %v: %s", n.name, err, strings.TrimSpace(errb.String())))
				return
			}
			results = append(results, res)
			for _, ex := range res.ErrorExamples {
				names = append(names, n.name+": "+ex)
			}
		}()
	}
	stopSampling := make(chan struct{})
	peaks := make(chan linkPeaks, 1)
	go func() { peaks <- h.sampleLinks(stopSampling) }()
	wg.Wait()
	close(stopSampling)
	pk := <-peaks
	l := herdLoad{PeakPending: pk.pending, PeakLagSec: pk.lag, LinksSampled: pk.sampled}
	if counted {
		drop1, ok := h.metric("herd_peer_updates_dropped_total")
		l.Dropped, l.DropsCounted = drop1-drop0, ok
	}
	if cpuTimer.Stop() {
		l.Failed = "the load ended before its warm-up did"
		return l
	}
	<-sampled
	cpu1, err := h.cpu()
	for _, r := range results {
		l.Requests += r.Requests
		l.Errors += r.Errors
		l.RPS += r.RequestsPerSec
		l.P99us = max(l.P99us, r.Latency.P99)
	}
	l.Examples = names[:min(len(names), 3)]
	switch {
	case len(fails) > 0:
		l.Failed = strings.Join(fails, "; ")
	case cpuErr != nil || err != nil:
		l.Failed = "herd CPU: " + errors.Join(cpuErr, err).Error()
	case l.Requests > 0:
		l.CPUusPerUp = (cpu1 - cpu0) * 1e6 / float64(l.Requests)
	}
	return l
}
