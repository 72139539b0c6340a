package node_test

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

func adminGet(t *testing.T, url string) (int, string) {
	t.Helper()
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
	return resp.StatusCode, string(b)
}

// TestSnapshotFailureIsVisible: a snapshot that cannot be written shows in
// /metrics (herd_snapshot_failures_total) and /status (its error), while
// /readyz stays 200: the node serves its clients from memory.
func TestSnapshotFailureIsVisible(t *testing.T) {
	cfg := testConfig()
	for i := range cfg.Nodes {
		cfg.Nodes[i].Admin = "127.0.0.1:0"
	}
	dataDir := t.TempDir()
	h, err := node.StartHerd(cfg, []string{"Alford"}, node.Options{Loops: 1, Admin: true,
		DataDir: func(name string) string { return filepath.Join(dataDir, name) }})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	m := h.Node("Alford")
	base := "http://" + m.AdminAddr()
	testclient.Dial(t, m.Addr()).Ask("IAMAT kiwi +1.0+1.0 1")
	if _, err := m.Snapshot.Save(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dataDir, "Alford")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Snapshot.Save(); err == nil {
		t.Fatal("a snapshot into a removed directory was written")
	}
	var metrics string
	testclient.Eventually(t, "the failure in /metrics", func() bool {
		_, metrics = adminGet(t, base+"/metrics")
		return strings.Contains(metrics, "\nherd_snapshot_failures_total 1\n")
	})
	if !strings.Contains(metrics, "\nherd_snapshot_last_success_timestamp_seconds ") ||
		strings.Contains(metrics, "\nherd_snapshot_last_success_timestamp_seconds 0\n") {
		t.Errorf("no last success in /metrics:\n%s", metrics)
	}
	_, status := adminGet(t, base+"/status")
	if !strings.Contains(status, `"last_error": "snapshot: writing `) || !strings.Contains(status, `"failures": 1`) {
		t.Errorf("/status does not show the failed snapshot:\n%s", status)
	}
	if code, body := adminGet(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz after a failed snapshot: %d %q, want 200", code, body)
	}
	// Stop writes a last snapshot; it cannot either, and says so.
	if err := os.MkdirAll(filepath.Join(dataDir, "Alford"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestExposedAdminPortWarns: an admin port off loopback without a token
// is logged at WARN when the node starts; with a token it is not. (The
// address is TEST-NET-1, which this host does not have: the port fails to
// open after the warning, and nothing listens beyond loopback.)
func TestExposedAdminPortWarns(t *testing.T) {
	for _, token := range []string{"", "s3cret"} {
		cfg := testConfig()
		cfg.Nodes[0].Admin = "192.0.2.1:0"
		cfg.Security.AdminToken = token
		var logs strings.Builder
		setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
			return herd.NodeOptions{}, slog.New(slog.NewJSONHandler(&logs, nil)), nil
		}
		if _, err := node.StartHerd(cfg, []string{cfg.Nodes[0].Name}, node.Options{Loops: 1, Admin: true, Setup: setup}); err == nil {
			t.Fatal("an admin port opened on 192.0.2.1")
		}
		warned := strings.Contains(logs.String(), `"level":"WARN","msg":"admin port not on loopback and no admin token`)
		if warned != (token == "") {
			t.Errorf("token %q: warned %v:\n%s", token, warned, logs.String())
		}
	}
}
