package google

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/places"
)

// newAnswerSeeds are bodies of the Places API (New) path: good, error,
// malformed, truncated, oddly typed and large.
func newAnswerSeeds() []string {
	full := newBodyText(20)
	return []string{
		full,
		newBodyText(1),
		full[:len(full)/2],
		`{}`,
		`{"places":[]}`,
		`{"places":null}`,
		`{"places":[{"id":"x"}]}`,
		`{"places":[{"location":{"latitude":"north","longitude":1}}]}`,
		`{"places":[{"location":{"latitude":1e400,"longitude":-1e400}}]}`,
		`{"places":[{"location":{"latitude":1,"longitude":2},"types":"university"}]}`,
		`{"places":[{"location":{"latitude":1,"longitude":2},"displayName":{"text":"\ud800\u0000\xff"}}]}`,
		`{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`,
		`{"error":{"code":"429","status":["RESOURCE_EXHAUSTED"]}}`,
		`{"error":null,"places":[{"location":{"latitude":1,"longitude":2}}]}`,
		`{"places":[` + strings.Repeat(`[`, 10000),
		`{"places":[` + strings.Repeat(`{"location":{"latitude":1,"longitude":2}},`, 5000) + `{}]}`,
		"",
		"null",
		"\x00\xff",
	}
}

// FuzzNewAnswer feeds the Places API (New) decode any status code and body:
// it never panics, an answer it takes becomes a well-formed legacy body of
// at most the bound, and anything else a *places.Error whose Places error
// body is well-formed JSON. Where encoding/json decodes the body too, the
// node's answer is the one encoding/json's decode would give.
func FuzzNewAnswer(f *testing.F) {
	for _, s := range newAnswerSeeds() {
		f.Add(200, []byte(s), 20)
	}
	f.Add(403, []byte(`{"error":{"code":403,"message":"key k is bad","status":"PERMISSION_DENIED"}}`), 5)
	f.Add(500, []byte(newBodyText(3)), 5)
	g := &PlacesAPI{ep: &endpoint{key: "k"}}
	f.Fuzz(func(t *testing.T, code int, body []byte, limit int) {
		limit = min(max(limit, 1), places.MaxLimit)
		out, err := g.appendAnswer(nil, code, body, limit)
		if err != nil {
			var pe *places.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *places.Error", err, err)
			}
			switch pe.Status {
			case places.StatusUnknownError, places.StatusOverQueryLimit, places.StatusRequestDenied, places.StatusInvalidRequest:
			default:
				t.Fatalf("error status %q", pe.Status)
			}
			if eb := places.AppendErrorBody(nil, err); !stdjson.Valid(eb) {
				t.Fatalf("error body not JSON:\n%s", eb)
			}
			if len(out) != 0 {
				t.Fatalf("error with output %q", out)
			}
			return
		}
		var got struct {
			Results []stdjson.RawMessage `json:"results"`
			Status  string               `json:"status"`
		}
		if err := stdjson.Unmarshal(out, &got); err != nil {
			t.Fatalf("answer not JSON: %v\n%s", err, out)
		}
		if len(got.Results) > limit || (got.Status == places.StatusOK) != (len(got.Results) > 0) ||
			(got.Status != places.StatusOK && got.Status != places.StatusZeroResults) {
			t.Fatalf("%d results, status %q, bound %d", len(got.Results), got.Status, limit)
		}
		var std newResponse
		if code != http.StatusOK || stdjson.Unmarshal(body, &std) != nil || std.Error != nil {
			return
		}
		if want := appendNewPlaces(nil, std.Places, limit); string(out) != string(want) {
			t.Fatalf("go-json and encoding/json answers differ:\n%s\n%s", out, want)
		}
	})
}

// TestNewAnswerHugeBody: a body over MaxResponseBodySize gets an
// UNKNOWN_ERROR, not a decode of part of it.
func TestNewAnswerHugeBody(t *testing.T) {
	body := newBodyText(20)
	srv := fakeGoogleNewConfig(t, places.Config{MaxResponseBodySize: len(body) - 1}, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, body)
	})
	_, err := srv.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 5}, nil)
	checkError(t, err, places.StatusUnknownError)
	if _, msg := places.StatusOf(err); !strings.Contains(msg, "too large") {
		t.Errorf("message %q", msg)
	}
}

// TestNewAnswerSeeds runs the fuzz seeds through the HTTP path too.
func TestNewAnswerSeeds(t *testing.T) {
	for i, s := range newAnswerSeeds() {
		g := fakeGoogleNewConfig(t, places.Config{}, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, s)
		})
		out, err := g.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 20}, nil)
		if err == nil && !stdjson.Valid(out) {
			t.Errorf("seed %d: answer not JSON:\n%s", i, out)
		}
		if err != nil && !stdjson.Valid(places.AppendErrorBody(nil, err)) {
			t.Errorf("seed %d: error body not JSON", i)
		}
	}
}

// fakeGoogleNewConfig is fakeGoogleNew with cfg's limits.
func fakeGoogleNewConfig(t *testing.T, cfg places.Config, handler http.HandlerFunc) *PlacesAPI {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.Key, cfg.Timeout = srv.URL, testKey, time.Second
	g, err := NewPlacesAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
