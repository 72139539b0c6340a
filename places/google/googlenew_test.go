package google

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/internal/placestest"
)

func fakeGoogleNew(t *testing.T, handler http.HandlerFunc) *PlacesAPI {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	g, err := NewPlacesAPI(places.Config{BaseURL: srv.URL, Key: testKey, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGoogleNewRequestAndConversion(t *testing.T) {
	var problem string
	g := fakeGoogleNew(t, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		err := json.Unmarshal(raw, &body)
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/v1/places:searchNearby":
			problem = r.Method + " " + r.URL.Path
		case r.Header.Get("X-Goog-Api-Key") != testKey:
			problem = "key header " + r.Header.Get("X-Goog-Api-Key")
		case r.Header.Get("X-Goog-FieldMask") != FieldMask:
			problem = "field mask " + r.Header.Get("X-Goog-FieldMask")
		case r.Header.Get("Content-Type") != "application/json":
			problem = "content type " + r.Header.Get("Content-Type")
		case r.URL.RawQuery != "":
			problem = "query " + r.URL.RawQuery
		case err != nil:
			problem = "body " + string(raw)
		case fmt.Sprint(body) != "map[locationRestriction:map[circle:map[center:map[latitude:34.06893 longitude:-118.445127] radius:10000]] maxResultCount:2]":
			problem = "body " + fmt.Sprint(body)
		}
		fmt.Fprint(w, `{
  "places": [
    {
      "id": "ChIJ1",
      "types": ["university", "point_of_interest", "establishment"],
      "location": {"latitude": 34.068921, "longitude": -118.4451811},
      "viewport": {"low": {"latitude": 34.0597, "longitude": -118.4522}, "high": {"latitude": 34.0781, "longitude": -118.4380}},
      "displayName": {"text": "University of California, \"Los Angeles\"", "languageCode": "en"},
      "shortFormattedAddress": "Los Angeles",
      "businessStatus": "OPERATIONAL"
    },
    {
      "id": "ChIJ2",
      "types": ["cafe"],
      "location": {"latitude": 34.07, "longitude": -118.44},
      "displayName": {"text": "Kerckhoff"}
    },
    {"id": "ChIJ3", "location": {"latitude": 1, "longitude": 2}, "displayName": {"text": "over the limit"}}
  ]
}`)
	})
	out, err := g.Nearby(context.Background(), places.Query{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: 2}, nil)
	if problem != "" {
		t.Fatal(problem)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := `{
   "html_attributions" : [],
   "results" : [
      {
         "business_status" : "OPERATIONAL",
         "geometry" : {
            "location" : {
               "lat" : 34.068921,
               "lng" : -118.4451811
            },
            "viewport" : {
               "northeast" : {
                  "lat" : 34.0781,
                  "lng" : -118.438
               },
               "southwest" : {
                  "lat" : 34.0597,
                  "lng" : -118.4522
               }
            }
         },
         "name" : "University of California, \"Los Angeles\"",
         "place_id" : "ChIJ1",
         "types" : [ "university", "point_of_interest", "establishment" ],
         "vicinity" : "Los Angeles"
      },
      {
         "geometry" : {
            "location" : {
               "lat" : 34.07,
               "lng" : -118.44
            }
         },
         "name" : "Kerckhoff",
         "place_id" : "ChIJ2",
         "types" : [ "cafe" ]
      }
   ],
   "status" : "OK"
}`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	placestest.DecodeBody(t, out)
}

func TestGoogleNewZeroResults(t *testing.T) {
	g := fakeGoogleNew(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}\n") })
	out, err := g.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}"; string(out) != want {
		t.Errorf("got %q", out)
	}
}

func TestGoogleNewErrors(t *testing.T) {
	errBody := func(code int, status string) string {
		return fmt.Sprintf(`{"error": {"code": %d, "message": "API key %s is not valid for %s.", "status": %q}}`, code, testKey, status, status)
	}
	cases := []struct {
		code   int
		body   string
		status string
	}{
		{403, errBody(403, "PERMISSION_DENIED"), places.StatusRequestDenied},
		{401, errBody(401, "UNAUTHENTICATED"), places.StatusRequestDenied},
		{429, errBody(429, "RESOURCE_EXHAUSTED"), places.StatusOverQueryLimit},
		{400, errBody(400, "INVALID_ARGUMENT"), places.StatusInvalidRequest},
		{500, errBody(500, "INTERNAL"), places.StatusUnknownError},
		{503, "upstream down", places.StatusUnknownError},
		{200, "{not json", places.StatusUnknownError},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.code, "/", c.status), func(t *testing.T) {
			g := fakeGoogleNew(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.code)
				fmt.Fprint(w, c.body)
			})
			_, err := g.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 5}, nil)
			checkError(t, err, c.status)
		})
	}
}

func TestSearchNearbyBody(t *testing.T) {
	got := string(appendSearchNearby(nil, places.Query{Lat: -33.5, Lon: 151.25, RadiusKm: 0.0004}, 20))
	want := `{"maxResultCount":20,"locationRestriction":{"circle":{"center":{"latitude":-33.5,"longitude":151.25},"radius":1}}}`
	if got != want {
		t.Errorf("got %s", got)
	}
}
