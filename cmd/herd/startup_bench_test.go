package main

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// BenchmarkStartToListen measures, with the real binary, the time from exec
// to the moment the client port accepts a connection: for "herd serve"
// (one node) and "herd up" (all five, until the last one listens), each
// with the embedded offline Places index. It reports medians of b.N starts
// (ns/op is the mean of whole runs, kill included): ms-to-admin until the
// admin ports accept, ms-to-listen until the client ports do, ms-to-ready
// until every node's /readyz says 200 (the index built). Run it with a
// fixed count, e.g.
//
//	go test -run '^$' -bench StartToListen -benchtime 15x ./cmd/herd
func BenchmarkStartToListen(b *testing.B) {
	bin := herdBinary(b)
	for _, mode := range []string{"serve", "up"} {
		b.Run("cmd="+mode, func(b *testing.B) {
			var listen, admin, ready []time.Duration
			for range b.N {
				a, l, r := startOnce(b, bin, mode)
				admin, listen, ready = append(admin, a), append(listen, l), append(ready, r)
			}
			b.ReportMetric(median(admin), "ms-to-admin")
			b.ReportMetric(median(listen), "ms-to-listen")
			b.ReportMetric(median(ready), "ms-to-ready")
		})
	}
}

// startOnce starts bin (serve Alford, or up) on free loopback ports and
// returns how long after exec the (last) admin port and the (last) client
// port accepted a connection, and every /readyz said 200; then it kills
// the process.
func startOnce(b *testing.B, bin, mode string) (admin, listen, ready time.Duration) {
	b.Helper()
	dir := b.TempDir()
	names := []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	var cfg strings.Builder
	cfg.WriteString("nodes:\n")
	clientPorts, adminPorts := map[string]string{}, map[string]string{}
	neighbors := map[string]string{"Alford": "[Hamilton, Welsh]", "Ball": "[Holiday, Welsh]", "Hamilton": "[Holiday]"}
	for _, n := range names {
		clientPorts[n], adminPorts[n] = freePort(b), freePort(b)
		fmt.Fprintf(&cfg, "  - {name: %s, listen: %q, admin: %q, neighbors: %s}\n", n, clientPorts[n], adminPorts[n], cmp.Or(neighbors[n], "[]"))
	}
	path := filepath.Join(dir, "herd.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	args := []string{mode, "--config", path, "--log-dir", filepath.Join(dir, "logs")}
	want := names
	if mode == "serve" {
		args = []string{"serve", "Alford", "--config", path, "--log-dir", filepath.Join(dir, "logs")}
		want = names[:1]
	}
	p := startProc(b, mode, bin, args...)
	start := time.Now()
	defer p.kill(b)
	waitAll := func(ports map[string]string) time.Duration {
		for _, n := range want {
			for !dials(ports[n]) {
				if !p.running() || time.Since(start) > 20*time.Second {
					b.Fatalf("%s: %s never listened on %s\n%s", mode, n, ports[n], p.describe())
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
		return time.Since(start)
	}
	admin = waitAll(adminPorts)
	listen = waitAll(clientPorts)
	hc := http.Client{Timeout: time.Second}
	for _, n := range want {
		for {
			resp, err := hc.Get("http://" + adminPorts[n] + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Since(start) > 20*time.Second {
				b.Fatalf("%s: %s never ready\n%s", mode, n, p.describe())
			}
			time.Sleep(time.Millisecond)
		}
	}
	return admin, listen, time.Since(start)
}

func dials(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func freePort(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func median(d []time.Duration) float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}
