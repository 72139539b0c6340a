package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/internal/testclient"
)

// lockedBuffer is a log destination the server's goroutines may share.
type lockedBuffer = testclient.Buffer

func request(t *testing.T, url, auth string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestAdminToken: with a token, every endpoint but the health probes wants
// it as a Bearer token; a wrong or missing one gets 401 and is counted.
func TestAdminToken(t *testing.T) {
	s := admin.New(admin.Node{Name: "Solo", Token: "s3cret-token"}, nil)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	base := "http://" + s.Addr()
	for _, path := range []string{"/metrics", "/status", "/herd", "/", "/index.html", "/nope"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret-token2", "Basic s3cret-token", "s3cret-token", "Bearer "} {
			code, hdr := request(t, base+path, auth)
			if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("%s with %q: %d %q, want 401 and WWW-Authenticate: Bearer", path, auth, code, hdr.Get("WWW-Authenticate"))
			}
		}
	}
	for path, want := range map[string]int{"/metrics": 200, "/status": 200, "/herd": 200, "/": 200, "/nope": 404} {
		for _, auth := range []string{"Bearer s3cret-token", "bearer s3cret-token"} {
			if code, _ := request(t, base+path, auth); code != want {
				t.Errorf("%s with the token: %d, want %d", path, code, want)
			}
		}
	}
	for _, path := range []string{"/livez", "/readyz"} {
		if code, _ := request(t, base+path, ""); code != 200 {
			t.Errorf("%s without a token: %d, want 200", path, code)
		}
	}
	_, _, body := getAuth(t, base+"/metrics", "Bearer s3cret-token")
	if got := sample(body, "herd_admin_unauthorized_total"); got != 36 {
		t.Errorf("herd_admin_unauthorized_total = %v, want 36", got)
	}
}

func getAuth(t *testing.T, url, auth string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", auth)
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, b.String()
}

// TestMalformedRequestsDoNotFloodTheLog sends 3,000 malformed requests (a
// 3,000-byte request line, then close): they are counted, and the log
// gets a summary with a short snippet, not the attacker's bytes per request.
func TestMalformedRequestsDoNotFloodTheLog(t *testing.T) {
	const n = 3000
	var logs lockedBuffer
	m := admin.NewMetrics()
	s := admin.New(admin.Node{Name: "Solo", Metrics: m}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	line := []byte("GET /" + strings.Repeat("A", 2985) + " HTTP/1.1") // 3,000 bytes, no end
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = c.Write(line)
		c.Close()
	}
	var counted float64
	// fasthttp reports each as an error, except the odd one the kernel
	// turns into a reset (fasthttp ignores those).
	testclient.Eventually(t, "the malformed requests counted", func() bool {
		_, _, body := get(t, "http://"+addr+"/metrics")
		counted = sample(body, "herd_admin_bad_requests_total")
		return counted >= n-n/100
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	t.Logf("log after %d malformed requests (%v counted): %d bytes", n, counted, len(out))
	if len(out) > 2048 {
		t.Errorf("log grew by %d bytes for %d malformed requests; want at most a summary line or two:\n%.600s", len(out), n, out)
	}
	if strings.Contains(out, strings.Repeat("A", 65)) {
		t.Errorf("more than 64 of the attacker's bytes in the log:\n%.600s", out)
	}
	if !strings.Contains(out, "bad requests rejected") || !strings.Contains(out, `"last_from":"127.0.0.1:`) {
		t.Errorf("no summary of the bad requests in the log:\n%s", out)
	}
}

// TestSlowConnectionsDoNotStarveProbesFromTheSameAddress: 64 connections
// from 127.0.0.1 that send half a request each must not make /readyz or
// /livez fail for a probe from 127.0.0.1 too.
func TestSlowConnectionsDoNotStarveProbesFromTheSameAddress(t *testing.T) {
	var health admin.Health
	health.SetListening()
	s := admin.New(admin.Node{Name: "Solo", Health: &health}, nil)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range 64 {
		c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_, _ = c.Write([]byte("GET /livez HTTP/1.1\r\nHost: x\r\n"))
	}
	for i := range 5 {
		for _, path := range []string{"/readyz", "/livez"} {
			if code, _, _ := get(t, "http://"+s.Addr()+path); code != http.StatusOK {
				t.Fatalf("probe %d of %s: %d with 64 slow connections from the same address", i, path, code)
			}
		}
	}
	_, _, body := get(t, "http://"+s.Addr()+"/metrics")
	if got := sample(body, "herd_admin_evicted_total"); got < 32 {
		t.Errorf("herd_admin_evicted_total = %v, want at least 32", got)
	}
}

// TestBadRequestsSummarisedOncePerInterval: bad requests sent without a
// pause are summarised in at most one line per interval, and the lines
// add up to what the counter says. An oversized header gets 431 and counts
// too. (As in TestMalformedRequestsDoNotFloodTheLog, the odd request that
// the kernel turns into a reset is not reported by fasthttp.)
func TestBadRequestsSummarisedOncePerInterval(t *testing.T) {
	const every = 100 * time.Millisecond
	restore := admin.SetSummaryEvery(every)
	var logs lockedBuffer
	s := admin.New(admin.Node{Name: "Solo"}, slog.New(slog.NewJSONHandler(&logs, nil)))
	restore()
	started := time.Now()
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	big := "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("B", 8000) + "\r\n\r\n"
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte(big))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasPrefix(string(reply), "HTTP/1.1 431 ") {
		t.Errorf("oversized header answered %.60q, want 431", reply)
	}
	start := time.Now()
	sent := 1
	for time.Since(start) < 5*every+every/2 && sent < 20000 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("NOT HTTP AT ALL\r\n\r\n"))
		c.Close()
		sent++
	}
	elapsed := time.Since(start)
	var counted float64
	testclient.Eventually(t, "the bad requests counted", func() bool {
		_, _, body := get(t, "http://"+addr+"/metrics")
		counted = sample(body, "herd_admin_bad_requests_total")
		return counted >= float64(sent-sent/100)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var lines, total int
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e struct {
			Msg   string `json:"msg"`
			Count int    `json:"count"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Msg != "admin: bad requests rejected" {
			t.Errorf("unexpected log line %q", l)
			continue
		}
		lines++
		total += e.Count
	}
	maxLines := int(time.Since(started)/every) + 1 // each tick, and Stop's
	if lines < 2 || lines > maxLines || total < sent-sent/100 || total > sent {
		t.Errorf("%d bad requests over %v: %d summary lines (want 2..%d) counting %d",
			sent, elapsed, lines, maxLines, total)
	}
}
