package admin_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/internal/testclient"
)

// rawGet sends req as it is on a new connection and returns the status
// line and the body.
func rawGet(t *testing.T, addr, req string) (status, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	status, _ = r.ReadString('\n')
	rest, _ := io.ReadAll(r)
	return strings.TrimSpace(status), string(rest)
}

// TestAttackAdminTokenBypass: requests that dress a guarded path up as a
// probe, or the token up as something close to it, must not get past
// security.admin_token: every answer without the token is a 401 or a 404,
// and never carries the metrics or the status.
func TestAttackAdminTokenBypass(t *testing.T) {
	s := admin.New(admin.Node{Name: "Solo", Token: "s3cret-token"}, nil)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	paths := []string{"/metrics", "//metrics", "/./metrics", "/livez/../metrics", "/readyz/../status", "/livez/%2e%2e/metrics",
		"/%6detrics", "/metrics/", "/metrics?/livez", "/metrics#/livez", "/livez;/metrics", "http://x/metrics", "/livez/..%2fmetrics",
		"/status", "/herd", "/"}
	auths := []string{"", "Authorization: Bearer s3cret-tokenx\r\n", "Authorization: Bearer s3cret-toke\r\n", "Authorization: Bearer  s3cret-token\r\n",
		"Authorization: s3cret-token\r\n", "Authorization: Bearer\r\n", "Authorization: Bearer s3cret-token\x00\r\n",
		"X-Authorization: Bearer s3cret-token\r\n", "Authorization: Bearer wrong\r\nAuthorization: Bearer s3cret-token\r\n"}
	for _, path := range paths {
		for _, auth := range auths {
			for _, method := range []string{"GET", "HEAD"} {
				status, body := rawGet(t, s.Addr(), method+" "+path+" HTTP/1.1\r\nHost: x\r\n"+auth+"Connection: close\r\n\r\n")
				if strings.Contains(body, "herd_") || strings.Contains(body, `"name"`) || strings.Contains(body, "<html") ||
					!(strings.Contains(status, " 401 ") || strings.Contains(status, " 404 ") || strings.Contains(status, " 400 ")) {
					t.Errorf("%s %s with %q: %s\n%.200s", method, path, auth, status, body)
				}
			}
		}
	}
	// The right token still works, and the probes need none.
	if status, body := rawGet(t, s.Addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\nConnection: close\r\n\r\n"); !strings.Contains(status, " 200 ") || !strings.Contains(body, "herd_") {
		t.Errorf("with the token: %s", status)
	}
	if status, _ := rawGet(t, s.Addr(), "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.Contains(status, " 200 ") {
		t.Errorf("/livez without a token: %s", status)
	}
}

// TestAttackProbesFromManyAddresses: idle connections from ten loopback
// addresses, each under the per-address bound but together over the
// port's total, then more opened while probes run: a probe from yet
// another address must always get its answer.
func TestAttackProbesFromManyAddresses(t *testing.T) {
	var health admin.Health
	health.SetListening()
	s := admin.New(admin.Node{Name: "Solo", Health: &health, Token: "t"}, nil)
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
	open := func(from int) {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(from))}}
		c, err := d.Dial("tcp", s.Addr())
		if err != nil {
			t.Skipf("dial from 127.0.0.%d: %v", from, err)
		}
		conns = append(conns, c)
		_, _ = c.Write([]byte("GET /status HTTP/1.1\r\nHost: x\r\n")) // and never the end
	}
	for i := range 300 {
		open(2 + i%10)
	}
	for i := range 20 {
		for range 10 {
			open(2 + i%10)
		}
		for _, path := range []string{"/readyz", "/livez"} {
			if code, _ := request(t, "http://"+s.Addr()+path, ""); code != http.StatusOK {
				t.Fatalf("probe %d of %s: %d", i, path, code)
			}
		}
	}
}
