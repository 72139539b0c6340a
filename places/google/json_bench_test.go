package google

import (
	stdjson "encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
)

// The JSON comparison behind the choice of decoder for the Places paths:
// encoding/json, goccy/go-json (what googlenew.go uses) and
// bytedance/sonic (JIT on amd64; elsewhere, or on a Go it does not know, it
// falls back to encoding/json). Run it with
//
//	go test -run='^$' -bench='^Benchmark(Decode|Convert|LegacyCut)$' -count=10 ./places/google
//
// and compare with benchstat; the figures and the decision are in
// BENCHMARKS.md.

// newPlaceText is one place of a Places API (New) searchNearby answer
// under FieldMask, in the shape of googlenew_test.go's recorded
// answer (the fields the mask asks for, languageCode included).
func newPlaceText(i int) string {
	return fmt.Sprintf(`    {
      "id": "ChIJ%04dAbCdEfGhIjKlMnOp",
      "types": ["university", "point_of_interest", "establishment"],
      "location": {"latitude": 34.0689%02d, "longitude": -118.44518%02d},
      "viewport": {"low": {"latitude": 34.0597%02d, "longitude": -118.4522}, "high": {"latitude": 34.0781, "longitude": -118.4380%02d}},
      "displayName": {"text": "University of California, \"Los Angeles\" %d", "languageCode": "en"},
      "shortFormattedAddress": "%d Westwood Plaza, Los Angeles",
      "businessStatus": "OPERATIONAL"
    }`, i, i, i, i, i, i, i)
}

// newBodyText is a Places API (New) answer holding n places.
func newBodyText(n int) string {
	var b strings.Builder
	b.WriteString("{\n  \"places\": [\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(newPlaceText(i))
	}
	b.WriteString("\n  ]\n}\n")
	return b.String()
}

// jsonLib is one decoder under comparison.
type jsonLib struct {
	name      string
	unmarshal func([]byte, any) error
}

var jsonLibs = []jsonLib{
	{"std", stdjson.Unmarshal},
	{"gojson", gojson.Unmarshal},
	{"sonic", sonic.Unmarshal},
}

// jsonBodies are the bodies of the Places API (New) path: one place, a
// full page of 20, and an error answer.
var jsonBodies = []struct{ name, text string }{
	{"new1", newBodyText(1)},
	{"new20", newBodyText(20)},
	{"newerror", `{"error": {"code": 403, "message": "Places API (New) has not been used in project 1 before or it is disabled.", "status": "PERMISSION_DENIED"}}`},
}

// legacyPage is what the legacy backend would keep of an answer if a library,
// rather than the splice scanner, finds the elements of "results".
type legacyPage struct {
	HTMLAttributions []stdjson.RawMessage `json:"html_attributions"`
	NextPageToken    string               `json:"next_page_token"`
	Results          []stdjson.RawMessage `json:"results"`
	Status           string               `json:"status"`
}

// TestJSONLibsAgree checks that the libraries decode every benchmark body
// to the same value, so the benchmarks compare like with like.
func TestJSONLibsAgree(t *testing.T) {
	for _, body := range jsonBodies {
		var want newResponse
		if err := stdjson.Unmarshal([]byte(body.text), &want); err != nil {
			t.Fatalf("%s: %v", body.name, err)
		}
		for _, lib := range jsonLibs[1:] {
			var got newResponse
			if err := lib.unmarshal([]byte(body.text), &got); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s: %v\n got %+v\nwant %+v", lib.name, body.name, err, got, want)
			}
		}
	}
	legacy := []byte(legacyBodyText(20, "tok", "\n"))
	for _, lib := range jsonLibs {
		var p legacyPage
		if err := lib.unmarshal(legacy, &p); err != nil || len(p.Results) != 20 || p.Status != "OK" {
			t.Errorf("%s/legacy20: %v, %d results, status %q", lib.name, err, len(p.Results), p.Status)
		}
	}
}

// BenchmarkDecode decodes a Places API (New) answer into googlenew.go's
// types, as GoogleNew.Nearby does.
func BenchmarkDecode(b *testing.B) {
	for _, body := range jsonBodies {
		for _, lib := range jsonLibs {
			b.Run("lib="+lib.name+"/body="+body.name, func(b *testing.B) {
				src := []byte(body.text)
				b.ReportAllocs()
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					var r newResponse
					if err := lib.unmarshal(src, &r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkConvert is the whole Places API (New) path after the HTTP
// exchange: decode, then write the legacy body for a bound of 20.
func BenchmarkConvert(b *testing.B) {
	for _, lib := range jsonLibs {
		b.Run("lib="+lib.name+"/body=new20", func(b *testing.B) {
			src := []byte(newBodyText(20))
			dst := make([]byte, 0, 16<<10)
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				var r newResponse
				if err := lib.unmarshal(src, &r); err != nil {
					b.Fatal(err)
				}
				dst = appendNewPlaces(dst[:0], r.Places, 20)
			}
		})
	}
}

// BenchmarkLegacyCut is the legacy path: cutting Google's answer to the
// bound. lib=splice is what google.go does (scan, copy Google's bytes);
// the libraries only find the results' elements (decoding into
// json.RawMessage), a lower bound on any library-based cut, which would
// then have to serialize the answer again.
func BenchmarkLegacyCut(b *testing.B) {
	src := []byte(legacyBodyText(20, "tok", "\n"))
	b.Run("lib=splice/body=legacy20", func(b *testing.B) {
		dst := make([]byte, 0, len(src))
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			var err error
			if dst, err = appendCutBody(dst[:0], src, 5); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, lib := range jsonLibs {
		b.Run("lib="+lib.name+"/body=legacy20", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				var p legacyPage
				if err := lib.unmarshal(src, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
