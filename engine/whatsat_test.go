package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/geonames"
)

var (
	geoOnce sync.Once
	geo     places.Provider
	geoErr  error
)

func offline(t testing.TB) places.Provider {
	geoOnce.Do(func() { geo, geoErr = geonames.Load("") })
	if geoErr != nil {
		t.Fatal(geoErr)
	}
	return geo
}

// startPlacesNode runs one node (Holiday) with provider p.
func startPlacesNode(t testing.TB, p places.Provider, timeout time.Duration) *node.Node {
	t.Helper()
	cfg := testConfig(t)
	setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		o, l, err := plainSetup(nc)
		o.Places, o.PlacesTimeout, o.MaxInFlight = p, timeout, 4
		return o, l, err
	}
	h, err := node.StartHerd(cfg, []string{"Holiday"}, node.Options{Setup: setup, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Stop(ctx)
	})
	return h.Nodes[0]
}

// readWhatsat reads one WHATSAT reply: the AT line, the body, the empty line.
func readWhatsat(c *client) (at, body string) {
	c.T.Helper()
	at = c.Line()
	var b strings.Builder
	for {
		l := c.Line()
		if l == "\n" {
			return at, b.String()
		}
		b.WriteString(l)
	}
}

func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0088
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

type nearby struct {
	HTMLAttributions []string `json:"html_attributions"`
	Results          []struct {
		Name     string `json:"name"`
		Geometry struct {
			Location struct{ Lat, Lng float64 } `json:"location"`
		} `json:"geometry"`
	} `json:"results"`
	Status       string `json:"status"`
	ErrorMessage string `json:"error_message"`
}

func TestWhatsatOfflineUCLA(t *testing.T) {
	t.Parallel()
	s := startPlacesNode(t, offline(t), 5*time.Second)
	c := testclient.Dial(t, s.Addr())
	at := c.Ask("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450")
	for _, bound := range []int{5, 20} {
		c.Send(fmt.Sprintf("WHATSAT kiwi.cs.ucla.edu 10 %d\n", bound))
		gotAT, body := readWhatsat(c)
		if gotAT != at {
			t.Fatalf("WHATSAT AT line %q, want stored %q", gotAT, at)
		}
		if strings.Contains(body, "\n\n") || strings.HasPrefix(body, "\n") {
			t.Fatalf("empty line inside the body:\n%s", body)
		}
		var r nearby
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("body is not JSON: %v\n%s", err, body)
		}
		if r.Status != "OK" || len(r.Results) == 0 || len(r.Results) > bound {
			t.Fatalf("bound %d: status %s, %d results", bound, r.Status, len(r.Results))
		}
		names := []string{}
		for _, p := range r.Results {
			if d := haversineKm(34.068930, -118.445127, p.Geometry.Location.Lat, p.Geometry.Location.Lng); d > 10 {
				t.Errorf("%s is %.2f km away, beyond 10 km", p.Name, d)
			}
			names = append(names, p.Name)
		}
		// Westwood is where UCLA is: the nearest populated place comes first.
		if !strings.Contains(strings.Join(names, ","), "Westwood") {
			t.Errorf("Westwood missing from %v", names)
		}
		if len(r.HTMLAttributions) == 0 || !strings.Contains(r.HTMLAttributions[0], "GeoNames") {
			t.Errorf("GeoNames credit missing: %v", r.HTMLAttributions)
		}
	}
}

func TestWhatsatInvalid(t *testing.T) {
	t.Parallel()
	s := startPlacesNode(t, offline(t), 5*time.Second)
	c := testclient.Dial(t, s.Addr())
	c.Ask("IAMAT kiwi +34.068930-118.445127 1")
	for _, l := range []string{
		"WHATSAT kiwi 0 5", "WHATSAT kiwi 50.1 5", "WHATSAT kiwi 51 5", "WHATSAT kiwi 10 0",
		"WHATSAT kiwi 10 21", "WHATSAT kiwi -1 5", "WHATSAT kiwi 10 5.0", "WHATSAT kiwi 1e1 5",
		"WHATSAT nobody 10 5", "WHATSAT kiwi 10", "WHATSAT kiwi 10 5 6",
	} {
		if got := c.Ask(l); got != "? "+l+"\n" {
			t.Errorf("%q: got %q", l, got)
		}
	}
	c.Send("WHATSAT kiwi 50 20\n")
	if at, _ := readWhatsat(c); !strings.HasPrefix(at, "AT Holiday ") {
		t.Errorf("limits 50 and 20 must be accepted, got %q", at)
	}
}

// slowPlaces answers after delay, or fails like a backend past its deadline.
type slowPlaces struct{ delay time.Duration }

func (slowPlaces) Name() string { return "slow" }
func (p slowPlaces) Nearby(ctx context.Context, q places.Query, dst []byte) ([]byte, error) {
	select {
	case <-time.After(p.delay):
		return append(dst, "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}\n\n\n"...), nil
	case <-ctx.Done():
		return dst, ctx.Err()
	}
}

func TestWhatsatBackendTimeout(t *testing.T) {
	t.Parallel()
	s := startPlacesNode(t, slowPlaces{delay: time.Hour}, 100*time.Millisecond)
	c := testclient.Dial(t, s.Addr())
	at := c.Ask("IAMAT kiwi +34.068930-118.445127 1")
	c.Send("WHATSAT kiwi 10 5\n")
	gotAT, body := readWhatsat(c)
	var r nearby
	if err := json.Unmarshal([]byte(body), &r); err != nil || gotAT != at {
		t.Fatalf("reply %q %q (%v)", gotAT, body, err)
	}
	if r.Status != "UNKNOWN_ERROR" || r.ErrorMessage == "" || len(r.Results) != 0 || !bytes.Contains([]byte(body), []byte(`"results" : []`)) {
		t.Fatalf("timeout body: %s", body)
	}
}

func TestWhatsatAfterHalfClose(t *testing.T) {
	t.Parallel()
	s := startPlacesNode(t, slowPlaces{delay: 200 * time.Millisecond}, 5*time.Second)
	c := testclient.Dial(t, s.Addr())
	c.Ask("IAMAT kiwi +34.068930-118.445127 1")
	c.Send("WHATSAT kiwi 10 5\nIAMAT other +1.0+1.0 2")
	if err := c.Conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	at, body := readWhatsat(c)
	if !strings.Contains(at, " kiwi ") || !strings.Contains(body, "ZERO_RESULTS") {
		t.Fatalf("pending WHATSAT after half-close: %q %q", at, body)
	}
	if l := c.Line(); !strings.Contains(l, " other +1.0+1.0 2") {
		t.Fatalf("last line after half-close: %q", l)
	}
}

// cancelSpy reports when a call started, blocks until its context ends and
// reports that it did.
type cancelSpy struct{ started, cancelled chan struct{} }

func (cancelSpy) Name() string { return "spy" }
func (p cancelSpy) Nearby(ctx context.Context, q places.Query, dst []byte) ([]byte, error) {
	close(p.started)
	<-ctx.Done()
	close(p.cancelled)
	return dst, ctx.Err()
}

func TestWhatsatClientGoneWhileWaiting(t *testing.T) {
	t.Parallel()
	spy := cancelSpy{started: make(chan struct{}), cancelled: make(chan struct{})}
	s := startPlacesNode(t, spy, time.Minute)
	c := testclient.Dial(t, s.Addr())
	c.Ask("IAMAT kiwi +34.068930-118.445127 1")
	c.Send("WHATSAT kiwi 10 5\n")
	<-spy.started
	// An abortive close (RST), not a half-close: nobody can read the answer.
	_ = c.Conn.(*net.TCPConn).SetLinger(0)
	c.Conn.Close()
	select {
	case <-spy.cancelled: // the backend call was cancelled at once
	case <-time.After(10 * time.Second):
		t.Fatal("the backend call outlived its client")
	}
	d := testclient.Dial(t, s.Addr())
	if l := d.Ask("IAMAT x +1.0+1.0 1"); !strings.HasPrefix(l, "AT Holiday ") {
		t.Fatalf("node unusable after a client left mid-WHATSAT: %q", l)
	}
}

func TestFloodBehindWhatsatsIsBounded(t *testing.T) {
	t.Parallel()
	s := startPlacesNode(t, slowPlaces{delay: 500 * time.Millisecond}, 5*time.Second)
	c := testclient.Dial(t, s.Addr())
	c.Ask("IAMAT kiwi +34.068930-118.445127 1")
	other := testclient.Dial(t, s.Addr())
	// 300 slow WHATSATs pause reading; then 2 MiB more requests pile up.
	c.Send(strings.Repeat("WHATSAT kiwi 10 5\n", 300))
	junk := strings.Repeat("IAMAT flood +1.0+1.0 1\n", (2<<20)/23)
	go func() { _, _ = c.Conn.Write([]byte(junk)) }()
	_ = c.Conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	// Closed with unread data, the socket is reset: EOF or a reset both
	// mean disconnected; only a timeout means the node kept buffering.
	if _, err := io.Copy(io.Discard, c.R); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the flooding client should be disconnected: %v", err)
	}
	if l := other.Ask("IAMAT x +1.0+1.0 1"); !strings.HasPrefix(l, "AT Holiday ") {
		t.Fatalf("other client: %q", l)
	}
}
