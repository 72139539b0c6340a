package node_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/places/geonames"
	"github.com/herdnet/herd/snapshot"
)

// gatedIndex is an offline backend whose index is built only once the test
// calls release: building is closed when the build starts.
func gatedIndex(t *testing.T) (p *geonames.Pending, building <-chan struct{}, release func()) {
	started, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // the build goroutine must end with the test
	p = geonames.Later(func() (*geonames.Index, error) {
		close(started)
		<-gate
		return geonames.Read(strings.NewReader("#herd-places-v1\tgeonameid\tname\tlatitude\tlongitude\tfeature_class\tfeature_code\tcountry_code\tadmin1_code\tpopulation\n" +
			"7\tSeven\t1.5\t2.5\tP\tPPL\tXX\t01\t700\n"))
	})
	return p, started, release
}

// httpGet returns the status and body of GET url.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wantHTTP(t *testing.T, url string, code int, body string) {
	t.Helper()
	if c, b := httpGet(t, url); c != code || b != body {
		t.Fatalf("GET %s: %d %q, want %d %q", url, c, b, code, body)
	}
}

// TestStartBeforePlacesIndex: a node listens and answers IAMAT while its
// offline index is still being built (held by the test); /readyz says 503
// until the index is ready, /livez 200 throughout; a WHATSAT sent before
// then waits for the index and is answered from it.
func TestStartBeforePlacesIndex(t *testing.T) {
	cfg := testConfig()
	for i := range cfg.Nodes {
		cfg.Nodes[i].Admin = "127.0.0.1:0"
	}
	p, building, release := gatedIndex(t)
	setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		return herd.NodeOptions{Name: nc.Name, Places: p, PlacesTimeout: time.Minute}, nil, nil
	}
	n, err := node.Start(node.Config{Herd: cfg, Name: "Alford", Options: node.Options{Setup: setup, Loops: 1, Admin: true}})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, n.Stop)
	<-building // the node started the build once it listened
	admin := "http://" + n.AdminAddr()
	wantHTTP(t, admin+"/livez", 200, "ok\n")
	wantHTTP(t, admin+"/readyz", 503, "places index loading\n")
	c := testclient.Dial(t, n.Addr())
	at := c.Ask("IAMAT kiwi +1.5+2.5 100")
	if !strings.HasPrefix(at, "AT Alford ") || !strings.HasSuffix(at, " kiwi +1.5+2.5 100\n") {
		t.Fatalf("IAMAT before the index is ready: %q", at)
	}
	c.Send("WHATSAT kiwi 10 5\n")
	wantHTTP(t, admin+"/readyz", 503, "places index loading\n")
	wantHTTP(t, admin+"/livez", 200, "ok\n")
	release()
	if l := c.Line(); l != at {
		t.Fatalf("WHATSAT reply opens with %q, want %q", l, at)
	}
	var body strings.Builder
	for l := c.Line(); l != "\n"; l = c.Line() {
		body.WriteString(l)
	}
	if !strings.Contains(body.String(), `"Seven"`) || !strings.Contains(body.String(), `"status" : "OK"`) {
		t.Fatalf("WHATSAT sent before the index was ready: %s", body.String())
	}
	testclient.Eventually(t, "/readyz to turn 200", func() bool { code, _ := httpGet(t, admin+"/readyz"); return code == 200 })
	wantHTTP(t, admin+"/livez", 200, "ok\n")
}

// TestAdminBeforeSnapshotLoad: the admin port answers /livez while the
// snapshot loads (Restored runs then, before the client port listens),
// and /readyz says 503 until the node listens.
func TestAdminBeforeSnapshotLoad(t *testing.T) {
	// The admin address must be known inside Restored, before Start
	// returns: a port picked free just before.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := ln.Addr().String()
	ln.Close()
	cfg := testConfig()
	for i := range cfg.Nodes {
		if cfg.Nodes[i].Name == "Alford" {
			cfg.Nodes[i].Admin = adminAddr
		}
	}
	dir := t.TempDir()
	admin := "http://" + adminAddr
	var during [4]string
	restored := func(string, snapshot.Restored) {
		c, b := httpGet(t, admin+"/livez")
		during[0], during[1] = http.StatusText(c), b
		c, b = httpGet(t, admin+"/readyz")
		during[2], during[3] = http.StatusText(c), b
	}
	n, err := node.Start(node.Config{Herd: cfg, Name: "Alford", Options: node.Options{Loops: 1, Admin: true,
		DataDir: func(string) string { return dir }, Restored: restored}})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, n.Stop)
	if want := [4]string{"OK", "ok\n", "Service Unavailable", "snapshot loading\n"}; during != want {
		t.Fatalf("/livez and /readyz while the snapshot loaded: %q, want %q", during, want)
	}
	wantHTTP(t, admin+"/readyz", 200, "ok\n")
}
