package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herdnet/herd/bench/load"
	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// ExtraResults are the benchmarks outside the throughput matrix.
type ExtraResults struct {
	IdleConns      int                `json:"idle_conns"`
	RSSPerIdleConn map[string]float64 `json:"rss_bytes_per_idle_conn"`
	CacheClients   int                `json:"cache_clients"`
	CacheBytesPer  float64            `json:"cache_bytes_per_client"`
	PropSamples    int                `json:"propagation_samples"`
	PropIdleP50us  float64            `json:"propagation_idle_p50_us"`
	PropIdleP99us  float64            `json:"propagation_idle_p99_us"`
	PropLoadP50us  float64            `json:"propagation_load_p50_us"`
	PropLoadP99us  float64            `json:"propagation_load_p99_us"`
	PropLoadRPS    float64            `json:"propagation_load_rps"`
	Whatsat        map[string]Sample  `json:"whatsat_mix"`
	Notes          []string           `json:"notes,omitempty"`
}

// Extras measures idle-connection memory, cache memory and propagation.
func Extras(ctx context.Context, o *Options) ExtraResults {
	r := ExtraResults{IdleConns: 10000, CacheClients: 1000000, PropSamples: 500, RSSPerIdleConn: map[string]float64{}}
	if o.Quick {
		r.IdleConns, r.CacheClients, r.PropSamples = 2000, 200000, 200
	}
	if o.Duration < time.Second { // tiny
		r.IdleConns, r.CacheClients, r.PropSamples = 100, 10000, 20
	}
	dir, _ := os.MkdirTemp("", "herd-bench-")
	defer os.RemoveAll(dir)
	for _, e := range []string{"gnet", "goroutine"} {
		fmt.Fprintf(o.Log, "bench: RSS of %d idle connections on %s\n", r.IdleConns, e)
		v, err := idleRSS(o, e, dir, r.IdleConns)
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("idle RSS on %s: %v", e, err))
			continue
		}
		r.RSSPerIdleConn[e] = v
	}
	r.Whatsat = map[string]Sample{}
	for _, e := range []string{"gnet", "goroutine"} {
		fmt.Fprintf(o.Log, "bench: %s with 10%% WHATSAT (offline index), 100 connections, pipeline 4\n", e)
		s, err := start(o, e, dir)
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("WHATSAT mix on %s: %v", e, err))
			continue
		}
		smp, err := runLoad(o, s, 100, 4, "--whatsat", "0.1", "--radius", "10", "--bound", "5")
		s.stop()
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("WHATSAT mix on %s: %v", e, err))
			continue
		}
		r.Whatsat[e] = smp
	}
	fmt.Fprintf(o.Log, "bench: cache bytes per client at %d clients\n", r.CacheClients)
	r.CacheBytesPer = cacheBytes(r.CacheClients)
	fmt.Fprintf(o.Log, "bench: propagation to the farthest node (%d samples, idle and under load)\n", r.PropSamples)
	if err := propagation(o, dir, &r); err != nil {
		r.Notes = append(r.Notes, "propagation: "+err.Error())
	}
	return r
}

func rss(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// idleRSS measures the RSS each idle connection costs engine: it opens a
// tenth of n connections first (so that start-up and first-use memory is in
// the baseline), reads RSS, opens the rest, waits for them to settle and
// reads it again; the slope is the cost per connection.
func idleRSS(o *Options, engine, dir string, n int) (float64, error) {
	s, err := start(o, engine, dir)
	if err != nil {
		return 0, err
	}
	defer s.stop()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := func(upto int) error {
		for len(conns) < upto {
			c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				return fmt.Errorf("after %d connections: %w", len(conns), err)
			}
			conns = append(conns, c)
		}
		// One round trip on the last connection: every earlier one was accepted.
		last := conns[len(conns)-1]
		if _, err := last.Write([]byte("LLL\n")); err != nil {
			return err
		}
		_ = last.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := bufio.NewReader(last).ReadString('\n')
		time.Sleep(time.Second)
		return err
	}
	first := max(n/10, 1)
	if err := open(first); err != nil {
		return 0, err
	}
	base, err := rss(s.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	if err := open(n); err != nil {
		return 0, err
	}
	after, err := rss(s.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	return float64(after-base) / float64(n-first), nil
}

// cacheBytes measures the heap the cache needs per client.
func cacheBytes(n int) float64 {
	var cmd codec.Command
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := herd.NewCache()
	buf := make([]byte, 0, 256)
	for i := range n {
		buf = fmt.Appendf(buf[:0], "AT Alford +0.263873386 client%07d.cs.ucla.edu +34.068930-118.445127 1479413884.392014450", i)
		if err := codec.Parse(buf, &cmd); err != nil {
			panic(err)
		}
		c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, buf)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

// propagation starts the default five-node herd topology on free ports and
// times an IAMAT at Alford until Ball (two hops away) holds it.
func propagation(o *Options, dir string, r *ExtraResults) error {
	names := []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	addr, admin := map[string]string{}, map[string]string{}
	var cfg strings.Builder
	cfg.WriteString("nodes:\n")
	nbs := map[string]string{"Alford": "[Hamilton, Welsh]", "Ball": "[Holiday, Welsh]", "Hamilton": "[Holiday]", "Holiday": "[]", "Welsh": "[]"}
	for _, n := range names {
		p, err := freePort()
		if err != nil {
			return err
		}
		a, err := freePort()
		if err != nil {
			return err
		}
		addr[n], admin[n] = "127.0.0.1:"+strconv.Itoa(p), "127.0.0.1:"+strconv.Itoa(a)
		fmt.Fprintf(&cfg, "  - name: %s\n    listen: %s\n    admin: %s\n    neighbors: %s\n", n, addr[n], admin[n], nbs[n])
	}
	path := filepath.Join(dir, "prop.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		return err
	}
	up := exec.Command(o.Herd, "up", "--config", path, "--log-level", "warn", "--log-dir", dir)
	up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := up.Start(); err != nil {
		return err
	}
	s := &server{name: "gnet", addr: addr["Alford"], cmd: up}
	defer s.stop()
	alford, err := dialReady(addr["Alford"])
	if err != nil {
		return err
	}
	defer alford.Close()
	ball, err := dialReady(addr["Ball"])
	if err != nil {
		return err
	}
	defer ball.Close()
	for _, n := range names { // the offline index is built after the nodes listen
		if err := waitReady(admin[n], time.Now().Add(15*time.Second)); err != nil {
			return err
		}
	}
	time.Sleep(500 * time.Millisecond) // links up
	measure := func(tag string) ([]float64, error) {
		ar, br := bufio.NewReader(alford), bufio.NewReader(ball)
		var out []float64
		for i := range r.PropSamples {
			client := fmt.Sprintf("prop-%s-%d", tag, i)
			t0 := time.Now()
			fmt.Fprintf(alford, "IAMAT %s +34.068930-118.445127 1479413884.%d\n", client, i)
			if _, err := ar.ReadString('\n'); err != nil {
				return nil, err
			}
			for {
				// WHATSAT is "?" until Ball knows the client.
				fmt.Fprintf(ball, "WHATSAT %s 0.001 1\n", client)
				l, err := br.ReadString('\n')
				if err != nil {
					return nil, err
				}
				if strings.HasPrefix(l, "AT ") {
					for l != "\n" {
						if l, err = br.ReadString('\n'); err != nil {
							return nil, err
						}
					}
					break
				}
				if time.Since(t0) > 5*time.Second {
					return nil, fmt.Errorf("%s never reached Ball", client)
				}
			}
			out = append(out, float64(time.Since(t0).Microseconds()))
		}
		return out, nil
	}
	_ = alford.SetDeadline(time.Now().Add(2 * time.Minute))
	_ = ball.SetDeadline(time.Now().Add(2 * time.Minute))
	idle, err := measure("idle")
	if err != nil {
		return err
	}
	r.PropIdleP50us, r.PropIdleP99us = percentile(idle, 0.5), percentile(idle, 0.99)
	// Under load: 100 connections pipelining IAMATs at Alford meanwhile.
	loadCmd := exec.Command(o.Herd, "load", "--addr", addr["Alford"], "--conns", "100", "--pipeline", "1",
		"--duration", "8s", "--mix", "herd", "--json")
	var lout strings.Builder
	loadCmd.Stdout = &lout
	if err := loadCmd.Start(); err != nil {
		return err
	}
	time.Sleep(time.Second)
	loaded, err := measure("load")
	_ = loadCmd.Wait()
	if err != nil {
		return err
	}
	r.PropLoadP50us, r.PropLoadP99us = percentile(loaded, 0.5), percentile(loaded, 0.99)
	var res load.Result
	if jsonErr := json.Unmarshal([]byte(lout.String()), &res); jsonErr == nil {
		r.PropLoadRPS = res.RequestsPerSec
	}
	return nil
}

func dialReady(addr string) (net.Conn, error) {
	deadline := time.Now().Add(15 * time.Second)
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
