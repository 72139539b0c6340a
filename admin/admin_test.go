package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/places"
)

// adminConfig is the default herd with every client and admin port on
// 127.0.0.1:0.
func adminConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg := config.Default()
	for i := range cfg.Nodes {
		cfg.Nodes[i].Listen = "127.0.0.1:0"
		cfg.Nodes[i].Address = "127.0.0.1:0"
		cfg.Nodes[i].Admin = "127.0.0.1:0"
	}
	cfg.Peers.BackoffMin = 10 * time.Millisecond
	cfg.Peers.BackoffMax = 200 * time.Millisecond
	return cfg
}

func startHerd(t testing.TB) *node.Herd {
	t.Helper()
	cfg := adminConfig(t)
	var names []string
	for _, n := range cfg.Nodes {
		names = append(names, n.Name)
	}
	h, err := node.StartHerd(cfg, names, node.Options{Loops: 2, Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	return h
}

func get(t testing.TB, url string) (int, http.Header, string) {
	t.Helper()
	// No keep-alive: no client goroutine outlives the request (goleak).
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// sample returns the value of the series (name with labels, exactly as
// exposed) in a Prometheus text exposition, or -1.
func sample(body, series string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+(Inf)?$`)

// checkExposition checks the text format line by line: comments are HELP
// or TYPE, each family has at most one TYPE, every sample parses.
func checkExposition(t *testing.T, body string) {
	t.Helper()
	types := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "# TYPE "):
			f := strings.Fields(l)
			if len(f) != 4 || types[f[2]] {
				t.Errorf("bad or repeated TYPE line %q", l)
			}
			types[f[2]] = true
		case strings.HasPrefix(l, "# HELP "):
		case !sampleLine.MatchString(l):
			t.Errorf("not a sample: %q", l)
		}
	}
}

func TestMetricsArePerNode(t *testing.T) {
	h := startHerd(t)
	alford, ball := h.Node("Alford"), h.Node("Ball")
	url := "http://" + alford.AdminAddr() + "/metrics"
	var body string
	// The links come up first: an update stored while a link is still down
	// is not queued for it (the link's sync carries it, or nothing if the
	// neighbour heard of it the other way round the herd).
	testclient.Eventually(t, "Alford's links up in /metrics", func() bool {
		_, _, body = get(t, url)
		return sample(body, `herd_peer_link_up{peer="Hamilton"}`) == 1 && sample(body, `herd_peer_link_up{peer="Welsh"}`) == 1
	})
	c := testclient.Dial(t, alford.Addr())
	c.Ask("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450")
	c.Ask("LLL")
	c.Ask("WHATSAT never-seen 10 5")
	testclient.Eventually(t, "the update sent to Hamilton in /metrics", func() bool {
		_, _, body = get(t, url)
		return sample(body, `herd_peer_link_up{peer="Hamilton"}`) == 1 && sample(body, `herd_peer_link_up{peer="Welsh"}`) == 1 &&
			sample(body, `herd_peer_updates_sent_total{peer="Hamilton"}`) >= 1 // by the link's first sync, or flooded
	})
	checkExposition(t, body)
	for series, want := range map[string]float64{
		`herd_lines_total{kind="IAMAT"}`:              1,
		`herd_lines_total{kind="invalid"}`:            2,
		`herd_lines_total{kind="WHATSAT"}`:            0,
		`herd_clients`:                                1,
		`herd_connections_refused_total`:              0,
		`herd_peer_reconnects_total{peer="Hamilton"}`: 0,
		`herd_peer_pending{peer="Hamilton"}`:          0,
		`herd_peer_lag_seconds{peer="Welsh"}`:         0,
		`herd_places_request_duration_seconds_count`:  0,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("Alford %s = %v, want %v", series, got, want)
		}
	}
	// The client's connection; the neighbours' inbound links are the peer
	// links' (herd_peer_link_up), not client connections.
	if got := sample(body, "herd_connections"); got != 1 {
		t.Errorf("herd_connections = %v, want 1", got)
	}
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !strings.Contains(body, "\n"+family+" ") {
			t.Errorf("no %s in /metrics", family)
		}
	}
	// Ball's port serves Ball's figures only: it got the update through
	// the herd, but no IAMAT line.
	testclient.Eventually(t, "Ball to hold the client", func() bool {
		_, _, b := get(t, "http://"+ball.AdminAddr()+"/metrics")
		return sample(b, "herd_clients") == 1 && sample(b, `herd_lines_total{kind="IAMAT"}`) == 0
	})
}

func TestStatusAndHerd(t *testing.T) {
	h := startHerd(t)
	alford := h.Node("Alford")
	testclient.Dial(t, alford.Addr()).Ask("IAMAT kiwi +1.0+1.0 1")
	var st admin.Status
	var stBody string
	testclient.Eventually(t, "Alford's links up in /status", func() bool {
		code, hdr, body := get(t, "http://"+alford.AdminAddr()+"/status")
		stBody = body
		if code != 200 || hdr.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Fatalf("/status: %d %v", code, hdr)
		}
		st = admin.Status{}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		return len(st.Links) == 2 && st.Links[0].State == peer.StateUp && st.Links[1].State == peer.StateUp
	})
	if st.Name != "Alford" || st.Listen != alford.Addr() || !st.Ready || st.Requests != 1 || st.Lines < 1 || st.Clients != 1 ||
		st.Connections < 1 || time.Since(time.Unix(int64(st.Time), 0)) > time.Minute {
		t.Errorf("status %+v", st)
	}
	for _, l := range st.Links {
		if l.Since.IsZero() || (l.Peer != "Hamilton" && l.Peer != "Welsh") || l.Pending < 0 || l.Lag < 0 {
			t.Errorf("link %+v", l)
		}
	}

	_, hdr, body := get(t, "http://"+alford.AdminAddr()+"/herd")
	if hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("/herd without CORS header")
	}
	var topo admin.Topology
	if err := json.Unmarshal([]byte(body), &topo); err != nil {
		t.Fatal(err)
	}
	if len(topo.Nodes) != 5 {
		t.Fatalf("/herd lists %d nodes", len(topo.Nodes))
	}
	// The bodies are what encoding/json's indented encoder writes.
	for _, c := range []struct {
		body string
		v    any
	}{{stBody, st}, {body, topo}} {
		if want := stdIndent(t, c.v); c.body != want {
			t.Errorf("admin JSON differs from encoding/json's:\n%s\nwant\n%s", c.body, want)
		}
	}
	for _, n := range topo.Nodes {
		m := h.Node(n.Name)
		if n.Admin != m.AdminAddr() || n.Listen != m.Addr() || len(n.Neighbors) != 2 {
			t.Errorf("/herd node %+v; member admin %s listen %s", n, m.AdminAddr(), m.Addr())
		}
	}

	code, hdr, page := get(t, "http://"+alford.AdminAddr()+"/")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(page, "<svg") {
		t.Errorf("/: %d %s", code, hdr.Get("Content-Type"))
	}
	if strings.Contains(page, "src=\"http") || strings.Contains(page, "href=\"http") {
		t.Error("the page loads external assets")
	}
	if code, _, _ := get(t, "http://"+alford.AdminAddr()+"/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}

func stdIndent(t *testing.T, v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHealth(t *testing.T) {
	var health admin.Health
	s := admin.New(admin.Node{Name: "Solo", Health: &health}, nil)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	base := "http://" + s.Addr()
	check := func(path string, want int, wantBody string) {
		t.Helper()
		code, _, body := get(t, base+path)
		if code != want || !strings.Contains(body, wantBody) {
			t.Errorf("%s: %d %q, want %d %q", path, code, body, want, wantBody)
		}
	}
	check("/livez", 200, "ok")
	check("/readyz", 503, "starting")
	release := health.Hold("snapshot loading")
	health.SetListening()
	check("/readyz", 503, "snapshot loading")
	release()
	release()
	check("/readyz", 200, "ok")
	health.SetDraining()
	check("/readyz", 503, "draining")
	check("/livez", 200, "ok")
}

func TestReadyzFollowsTheNode(t *testing.T) {
	h := startHerd(t)
	m := h.Node("Holiday")
	addr := m.AdminAddr()
	if code, _, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("/readyz of a started node: %d", code)
	}
	release := m.Health.Hold("snapshot")
	if code, _, body := get(t, "http://"+addr+"/readyz"); code != 503 || body != "snapshot\n" {
		t.Errorf("/readyz while held: %d %q", code, body)
	}
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, err := (&http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/livez"); err == nil {
		resp.Body.Close()
		t.Error("the admin port still answers after Stop")
	}
}

type fakePlaces struct{ err error }

func (f fakePlaces) Name() string { return "fake" }
func (f fakePlaces) Nearby(_ context.Context, _ places.Query, dst []byte) ([]byte, error) {
	return append(dst, "{}"...), f.err
}

func TestPlacesMetrics(t *testing.T) {
	m := admin.NewMetrics()
	ok := m.Places(fakePlaces{})
	bad := m.Places(fakePlaces{err: &places.Error{Status: places.StatusOverQueryLimit, Message: "slow down"}})
	timeout := m.Places(fakePlaces{err: fmt.Errorf("wrapped: %w", context.DeadlineExceeded)})
	for range 3 {
		_, _ = ok.Nearby(context.Background(), places.Query{}, nil)
	}
	_, _ = bad.Nearby(context.Background(), places.Query{}, nil)
	_, _ = timeout.Nearby(context.Background(), places.Query{}, nil)
	s := admin.New(admin.Node{Name: "Solo", Metrics: m}, nil)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	_, _, body := get(t, "http://"+s.Addr()+"/metrics")
	checkExposition(t, body)
	timeoutStatus, _ := places.StatusOf(context.DeadlineExceeded)
	for series, want := range map[string]float64{
		`herd_places_requests_total{backend="fake",status="OK"}`:                    3,
		`herd_places_requests_total{backend="fake",status="OVER_QUERY_LIMIT"}`:      1,
		`herd_places_requests_total{backend="fake",status="` + timeoutStatus + `"}`: 1,
		`herd_places_request_duration_seconds_count`:                                5,
		`herd_places_request_duration_seconds_bucket{le="+Inf"}`:                    5,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// TestHalfSentRequestsDoNotStarveProbes: 300 connections from one address
// that send half a request each (the attack that filled fasthttp's 256
// slots) leave /livez answering for a probe from another address.
func TestHalfSentRequestsDoNotStarveProbes(t *testing.T) {
	h := startHerd(t)
	addr := h.Node("Alford").AdminAddr()
	var conns []net.Conn
	for range 300 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			break // refused over the per-address cap: what we want
		}
		conns = append(conns, c)
		_, _ = c.Write([]byte("GET /livez HTTP/1.1\r\nHost: x\r\n"))
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	// The probe comes from another loopback address, as a kubelet would.
	_, port, _ := net.SplitHostPort(addr)
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	tr := &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext}
	c := http.Client{Timeout: 5 * time.Second, Transport: tr}
	for i := range 5 {
		resp, err := c.Get("http://127.0.0.1:" + port + "/livez")
		if err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("probe %d: status %d with %d half-sent requests open", i, resp.StatusCode, len(conns))
		}
	}
}
