// Package placestest holds what the places backends' tests share: the
// decoded legacy Nearby Search body with its framing checks, and the UCLA
// test point.
package placestest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The UCLA point of the examples of docs/PROTOCOL.md (WHATSAT).
const (
	UCLALat = 34.068930
	UCLALon = -118.445127
)

// LegacyBody is the decoded shape of a legacy Nearby Search answer.
type LegacyBody struct {
	HTMLAttributions []string `json:"html_attributions"`
	NextPageToken    string   `json:"next_page_token"`
	ErrorMessage     string   `json:"error_message"`
	Results          []struct {
		BusinessStatus string `json:"business_status"`
		Geometry       struct {
			Location struct{ Lat, Lng float64 } `json:"location"`
			Viewport struct {
				Northeast struct{ Lat, Lng float64 } `json:"northeast"`
				Southwest struct{ Lat, Lng float64 } `json:"southwest"`
			} `json:"viewport"`
		} `json:"geometry"`
		Name     string   `json:"name"`
		PlaceID  string   `json:"place_id"`
		Types    []string `json:"types"`
		Vicinity string   `json:"vicinity"`
	} `json:"results"`
	Status string `json:"status"`
}

// DecodeBody checks the framing rules of the protocol (no empty line, no
// trailing newline, valid JSON with exactly the legacy keys) and decodes.
func DecodeBody(t testing.TB, b []byte) LegacyBody {
	t.Helper()
	if bytes.Contains(b, []byte("\n\n")) {
		t.Errorf("body has an empty line:\n%s", b)
	}
	if len(b) == 0 || b[len(b)-1] == '\n' {
		t.Errorf("body is empty or ends in a newline: %q", b)
	}
	if !json.Valid(b) {
		t.Fatalf("invalid JSON:\n%s", b)
	}
	var lb LegacyBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lb); err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	return lb
}

func DecodeAny(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return m
}
