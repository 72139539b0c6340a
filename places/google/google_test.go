package google

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/internal/placestest"
)

const testKey = "AIzaTEST-key/with+odd=chars"

// legacyResultText is one result in Google's legacy layout, at the indent
// of an element of "results". The names carry bytes that a careless
// scanner would trip on: brackets, braces, commas, escaped quotes.
func legacyResultText(i int) string {
	return fmt.Sprintf(`      {
         "business_status" : "OPERATIONAL",
         "geometry" : {
            "location" : {
               "lat" : 34.07%02d,
               "lng" : -118.44%02d
            },
            "viewport" : {
               "northeast" : {
                  "lat" : 34.0713272,
                  "lng" : -118.4415292
               },
               "southwest" : {
                  "lat" : 34.0686292,
                  "lng" : -118.4442288
               }
            }
         },
         "icon" : "https://maps.gstatic.com/mapfiles/place_api/icons/v1/png_71/generic_business-71.png",
         "name" : "Place %d ]}, \"quoted\" \\ [{",
         "opening_hours" : {
            "open_now" : true
         },
         "photos" : [
            {
               "height" : 3024,
               "html_attributions" : [
                  "\u003ca href=\"https://maps.google.com/maps/contrib/1\"\u003eSomeone\u003c/a\u003e"
               ],
               "photo_reference" : "ref%d",
               "width" : 4032
            }
         ],
         "place_id" : "ChIJ%04d",
         "rating" : 4.5,
         "reference" : "ChIJ%04d",
         "scope" : "GOOGLE",
         "types" : [ "cafe", "food", "point_of_interest", "establishment" ],
         "user_ratings_total" : 1234,
         "vicinity" : "%d Westwood Plaza, Los Angeles"
      }`, i, i, i, i, i, i, i)
}

// legacyBodyText builds a legacy answer holding results first..first+n-1,
// laid out as Google does; tail is what follows the closing brace.
func legacyBodyText(n int, token, tail string) string {
	var b strings.Builder
	b.WriteString("{\n   \"html_attributions\" : [],\n")
	if token != "" {
		b.WriteString("   \"next_page_token\" : \"" + token + "\",\n")
	}
	if n == 0 {
		b.WriteString("   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}")
		return b.String() + tail
	}
	b.WriteString("   \"results\" : [\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(legacyResultText(i))
	}
	b.WriteString("\n   ],\n   \"status\" : \"OK\"\n}")
	return b.String() + tail
}

// fakeGoogle serves handler on 127.0.0.1:0 and returns a Legacy backend
// pointed at it.
func fakeGoogle(t *testing.T, timeout time.Duration, handler http.HandlerFunc) (*Legacy, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	g, err := NewLegacy(places.Config{BaseURL: srv.URL, Key: testKey, Timeout: timeout, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	return g, srv
}

func TestGoogleCutsResults(t *testing.T) {
	const token = "AW30NDz-token_with-\\u0026-escapes"
	full := legacyBodyText(20, token, "\n")
	var gotQuery atomic.Value
	g, _ := fakeGoogle(t, 2*time.Second, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/maps/api/place/nearbysearch/json" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		gotQuery.Store(r.URL.Query())
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		fmt.Fprint(w, full)
	})
	for _, limit := range []int{1, 5, 19, 20} {
		out, err := g.Nearby(context.Background(), places.Query{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: limit}, []byte("AT\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := "AT\n" + legacyBodyText(limit, token, "")
		if string(out) != want {
			t.Fatalf("limit %d: got\n%s\nwant\n%s", limit, out, want)
		}
		if lb := placestest.DecodeAny(t, out[3:]); len(lb["results"].([]any)) != limit {
			t.Errorf("limit %d: %d results", limit, len(lb["results"].([]any)))
		}
	}
	q := gotQuery.Load().(url.Values)
	if q["key"][0] != testKey || q["location"][0] != "34.06893,-118.445127" || q["radius"][0] != "10000" {
		t.Errorf("query %v", q)
	}
}

func TestGoogleCollapsesNewlines(t *testing.T) {
	body := "{\n\n   \"html_attributions\" : [],\n   \"results\" : [],\n\n\n   \"status\" : \"ZERO_RESULTS\"\n}\n\n\n"
	g, _ := fakeGoogle(t, 2*time.Second, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
	out, err := g.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}"
	if string(out) != want {
		t.Errorf("got %q", out)
	}
}

func TestGooglePassesErrorBodies(t *testing.T) {
	for _, status := range []string{"REQUEST_DENIED", "OVER_QUERY_LIMIT", "INVALID_REQUEST", "UNKNOWN_ERROR", "ZERO_RESULTS"} {
		body := "{\n   \"error_message\" : \"Message for " + status + "\",\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"" + status + "\"\n}"
		g, _ := fakeGoogle(t, 2*time.Second, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body+"\n") })
		out, err := g.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 5}, nil)
		if err != nil || string(out) != body {
			t.Errorf("%s: err %v, body\n%s", status, err, out)
		}
	}
}

func TestGoogleErrors(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		status  string
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom "+testKey, 500) }, places.StatusUnknownError},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, places.StatusUnknownError},
		{"403", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }, places.StatusRequestDenied},
		{"429", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) }, places.StatusOverQueryLimit},
		{"not json", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>"+testKey+"</html>") }, places.StatusUnknownError},
		{"no results", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"status" : "OK"}`) }, places.StatusUnknownError},
		{"truncated", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, legacyBodyText(3, "", "")[:500]) }, places.StatusUnknownError},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
			fmt.Fprint(w, legacyBodyText(1, "", ""))
		}, places.StatusUnknownError},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			g, _ := fakeGoogle(t, 300*time.Millisecond, c.handler)
			start := time.Now()
			out, err := g.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 5}, []byte("x"))
			if el := time.Since(start); el > time.Second {
				t.Errorf("took %v", el)
			}
			if string(out) != "x" {
				t.Errorf("dst changed on error: %q", out)
			}
			checkError(t, err, c.status)
		})
	}
}

func TestGoogleContextDeadline(t *testing.T) {
	g, _ := fakeGoogle(t, 5*time.Second, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := g.Nearby(ctx, places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 5}, nil)
	if el := time.Since(start); el > time.Second {
		t.Errorf("ignored the context deadline: %v", el)
	}
	checkError(t, err, places.StatusUnknownError)
}

func TestGoogleConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g, err := NewLegacy(places.Config{BaseURL: "http://" + addr, Key: testKey, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 5}, nil)
	checkError(t, err, places.StatusUnknownError)
}

// checkError asserts err is an *places.Error with status and that neither it nor
// an error body made from it holds the key.
func checkError(t *testing.T, err error, status string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if st, _ := places.StatusOf(err); st != status {
		t.Errorf("status %s, want %s (%v)", st, status, err)
	}
	body := places.AppendErrorBody(nil, err)
	for _, s := range []string{err.Error(), string(body)} {
		if strings.Contains(s, testKey) || strings.Contains(s, "AIzaTEST") {
			t.Errorf("key leaked: %s", s)
		}
	}
	lb := placestest.DecodeBody(t, body)
	if lb.Status != status || lb.ErrorMessage == "" || len(lb.Results) != 0 {
		t.Errorf("error body %s", body)
	}
}

func TestGoogleNeedsKey(t *testing.T) {
	t.Setenv(places.KeyEnv, "")
	if _, err := NewLegacy(places.Config{}); err == nil {
		t.Error("no key: no error")
	}
	t.Setenv(places.KeyEnv, "from-env")
	g, err := NewLegacy(places.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if g.ep.key != "from-env" || g.ep.origin != places.DefaultGoogleBaseURL || !g.ep.hc.IsTLS || g.ep.hc.Addr != "maps.googleapis.com:443" {
		t.Errorf("endpoint %+v", g.ep)
	}
	if _, err := NewLegacy(places.Config{Key: "k", BaseURL: "ftp://x"}); err == nil {
		t.Error("bad base URL: no error")
	}
}
