package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
)

// lockedBuffer collects a process's output for the test's failure message.
type lockedBuffer = testclient.Buffer

// freePort returns a loopback address with a port free a moment ago
// (Prometheus cannot report a port it picked itself).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrometheus runs the prometheus binary with config on a loopback
// port, waits until it is ready, and stops it at cleanup. It returns the
// base URL of its HTTP API.
func startPrometheus(t *testing.T, bin, config string) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	var out lockedBuffer
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := httpGet(t, base+"/-/ready", ""); err == nil {
			return base
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 20s\n%s", out.String())
		}
	}
}

// query asks Prometheus at base for q, an instant vector, and returns its
// samples keyed by the labels keys name (joined with "/").
func query(t *testing.T, base, q string, keys ...string) map[string]float64 {
	t.Helper()
	body, err := httpGet(t, base+"/api/v1/query?query="+url.QueryEscape(q), "")
	if err != nil {
		t.Fatal(err)
	}
	var r promResult
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, body)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		k := ""
		for i, key := range keys {
			if i > 0 {
				k += "/"
			}
			k += s.Metric[key]
		}
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			t.Fatalf("query %s: value %v", q, s.Value)
		}
		out[k] = v
	}
	return out
}

// eventually polls cond every 250ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestPrometheusScrapesHerd runs a real Prometheus (Debian's package)
// against a five-node herd: it scrapes every admin port each second, with
// the admin token as a bearer token and herd-rules.yml loaded, and what its HTTP API reports matches what the
// test sent: the clients on every node, the IAMATs each node answered, the
// state of every link. A stopped node shows up == 0.
func TestPrometheusScrapesHerd(t *testing.T) {
	bin := tool(t, "prometheus")
	cfg := adminConfig()
	h := startHerd(t, cfg)

	// Clients report to different nodes; the herd floods them everywhere.
	sent := map[string]int{"Alford": 3, "Ball": 2, "Holiday": 1}
	clients := 0
	for name, n := range sent {
		c := testclient.Dial(t, h.Node(name).Addr())
		for i := range n {
			c.Ask(fmt.Sprintf("IAMAT %s-%d +34.068930-118.445127 1479413884.392014450", name, i))
			clients++
		}
	}
	targets := map[string]string{} // admin address -> node
	var addrs []string
	links := map[string]float64{} // admin address/peer -> 1
	for _, n := range h.Nodes {
		targets[n.AdminAddr()] = n.Name()
		addrs = append(addrs, n.AdminAddr())
		for _, nb := range cfg.Neighbors(n.Name()) {
			links[n.AdminAddr()+"/"+nb.Name] = 1
		}
	}
	testclient.Eventually(t, "every node to hold every client and every link up", func() bool {
		for _, n := range h.Nodes {
			if n.Node.Cache().Len() != clients {
				return false
			}
			for _, l := range n.Links.Stats() {
				if l.State.String() != "up" {
					return false
				}
			}
		}
		return true
	})

	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	// Without the token, the admin port answers 401 but for the probes.
	if _, err := httpGet(t, "http://"+addrs[0]+"/metrics", ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("/metrics without the admin token: %v", err)
	}
	base := startPrometheus(t, bin, promConfig(addrs, adminToken, rules))

	eventually(t, 20*time.Second, "two scrapes of every node", func() bool {
		n := query(t, base, `count_over_time(up{job="herd"}[1m]) >= 2`, "instance")
		return len(n) == len(addrs)
	})
	if up := query(t, base, `up{job="herd"}`, "instance"); len(up) != len(addrs) {
		t.Fatalf("up: %v, want the %d nodes", up, len(addrs))
	} else {
		for a, v := range up {
			if v != 1 {
				t.Errorf("up{instance=%q} = %v", a, v)
			}
		}
	}
	// The samples are the newest scrape's: the figures have settled.
	for inst, v := range query(t, base, `herd_clients{job="herd"}`, "instance") {
		if v != float64(clients) {
			t.Errorf("herd_clients of %s (%s) = %v, want %d", targets[inst], inst, v, clients)
		}
	}
	iamat := query(t, base, `herd_lines_total{job="herd",kind="IAMAT"}`, "instance")
	for inst, name := range targets {
		if iamat[inst] != float64(sent[name]) {
			t.Errorf("herd_lines_total{kind=IAMAT} of %s = %v, want %d", name, iamat[inst], sent[name])
		}
	}
	if got := query(t, base, `herd_peer_link_up{job="herd"}`, "instance", "peer"); !mapsEqual(got, links) {
		t.Errorf("herd_peer_link_up: %v, want %v", got, links)
	}
	if got := query(t, base, `herd_build_info{job="herd"}`, "instance"); len(got) != len(addrs) {
		t.Errorf("herd_build_info: %v", got)
	}

	// The rule file is loaded and its rules evaluate without errors.
	body, err := httpGet(t, base+"/api/v1/rules", "")
	if err != nil {
		t.Fatal(err)
	}
	var loaded struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &loaded); err != nil || len(loaded.Data.Groups) != len(loadRules(t).Groups) {
		t.Fatalf("rules: %v %s", err, body)
	}
	for _, g := range loaded.Data.Groups {
		for _, r := range g.Rules {
			if r.Health == "err" {
				t.Errorf("rule %s/%s: health %s", g.Name, r.Name, r.Health)
			}
		}
	}

	// Stop a node: Prometheus sees its scrape fail.
	welsh := h.Node("Welsh")
	welshAdmin := welsh.AdminAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := welsh.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "up == 0 for the stopped node", func() bool {
		down := query(t, base, `up{job="herd"} == 0`, "instance")
		return len(down) == 1 && down[welshAdmin] == 0
	})
	// The links to it are down; the others stay up.
	want := map[string]float64{}
	for k := range links {
		if inst, peer, _ := strings.Cut(k, "/"); inst != welshAdmin {
			want[k] = 1
			if peer == "Welsh" {
				want[k] = 0
			}
		}
	}
	eventually(t, 15*time.Second, "the links to the stopped node down", func() bool {
		got := query(t, base, `herd_peer_link_up{job="herd"} and on (instance) up == 1`, "instance", "peer")
		return mapsEqual(got, want)
	})
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
