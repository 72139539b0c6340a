package admin_test

import (
	"regexp"
	"runtime"
	"testing"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/internal/testclient"
)

// TestOperatorMetrics: the figures the alert rules and the dashboard
// read besides the traffic counters: the build, readiness, the connection
// cap, and the cut-off connections by reason.
func TestOperatorMetrics(t *testing.T) {
	h := startHerd(t)
	n := h.Node("Holiday")
	url := "http://" + n.AdminAddr() + "/metrics"
	_, _, body := get(t, url)
	checkExposition(t, body)
	info := regexp.MustCompile(`(?m)^herd_build_info\{version="[^"]+",goversion="` + regexp.QuoteMeta(runtime.Version()) + `",revision="[^"]+"\} 1$`)
	if n := len(info.FindAllString(body, -1)); n != 1 {
		t.Errorf("%d herd_build_info samples for %s, want 1\n%s", n, runtime.Version(), body)
	}
	for series, want := range map[string]float64{
		"herd_ready":                    1,
		"herd_whatsat_overloaded_total": 0,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("%s = %v, want %v\n%s", series, got, want, body)
		}
	}
	if got := sample(body, "herd_connections_max"); got < 1 {
		t.Errorf("herd_connections_max = %v", got)
	}
	for _, reason := range engine.CloseReasons {
		if got := sample(body, `herd_connections_closed_total{reason="`+reason+`"}`); got != 0 {
			t.Errorf("closed %s = %v, want 0", reason, got)
		}
	}
	// A line over max_line cuts its connection off, and the count shows it.
	// The node may close the connection before the write ends: the write's
	// error is not the test's business.
	c := testclient.Dial(t, n.Addr())
	_, _ = c.Conn.Write(make([]byte, 2<<20))
	testclient.Eventually(t, "a line_too_long close in /metrics", func() bool {
		_, _, body = get(t, url)
		return sample(body, `herd_connections_closed_total{reason="line_too_long"}`) == 1
	})
	release := n.Health.Hold("test")
	testclient.Eventually(t, "herd_ready 0 while held", func() bool {
		_, _, body = get(t, url)
		return sample(body, "herd_ready") == 0
	})
	release()
}
