package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/geonames"
	"github.com/herdnet/herd/places/google"
	"github.com/herdnet/herd/places/internal/placestest"
)

// startServer runs a Server for p on 127.0.0.1:0 and returns its base URL;
// cleanup shuts it down and checks that Serve returned.
func startServer(t *testing.T, p places.Provider) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(p, ServerConfig{Timeout: 2 * time.Second})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func TestServer(t *testing.T) {
	g := embeddedGeonames(t)
	base := startServer(t, g)

	code, ctype, body := get(t, base+NearbySearchPath+"?location=34.068930,-118.445127&radius=10000&key=anything")
	want, _ := g.Nearby(context.Background(), places.Query{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: 20}, nil)
	if code != 200 || ctype != "application/json; charset=UTF-8" || string(body) != string(want) {
		t.Errorf("%d %s\n%s", code, ctype, body)
	}

	for _, q := range []string{"", "?location=1,2", "?location=91,0&radius=5", "?location=x&radius=5", "?location=1,2&radius=-1"} {
		code, _, body := get(t, base+NearbySearchPath+q)
		if lb := placestest.DecodeBody(t, body); code != 200 || lb.Status != places.StatusInvalidRequest || lb.ErrorMessage == "" {
			t.Errorf("%q: %d %s", q, code, body)
		}
	}
	if code, _, _ := get(t, base+"/other"); code != 404 {
		t.Errorf("other path: %d", code)
	}
}

// The google backend pointed at a geonames Server gives the geonames answer
// cut to the bound: the whole path (HTTP client, splice, server) end to end.
func TestGoogleAgainstServer(t *testing.T) {
	g := embeddedGeonames(t)
	base := startServer(t, g)
	gg, err := google.NewLegacy(places.Config{BaseURL: base, Key: "k", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 5, 20} {
		q := places.Query{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: limit}
		got, err := gg.Nearby(context.Background(), q, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := g.Nearby(context.Background(), q, nil)
		if string(got) != string(want) {
			t.Errorf("limit %d: got\n%s\nwant\n%s", limit, got, want)
		}
	}
}

// embeddedGeonames loads the embedded extract.
func embeddedGeonames(t testing.TB) *geonames.Index {
	t.Helper()
	g, err := geonames.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return g
}
