package places

import (
	"context"
	"errors"
)

// Bounds of the legacy Nearby Search API, which WHATSAT shares.
const (
	// MaxLimit is the most results a legacy Nearby Search page holds.
	MaxLimit = 20
	// MaxRadiusKm is the largest radius the legacy API accepts (50 000 m).
	MaxRadiusKm = 50
)

// Query is one WHATSAT question: places within RadiusKm of (Lat, Lon), at most Limit results.
type Query struct {
	Lat, Lon float64 // decimal degrees, already validated by the codec
	RadiusKm float64 // 0 < RadiusKm <= 50
	Limit    int     // 1..20
}

// Provider answers Nearby Search questions. Implementations must be safe for
// concurrent use. Nearby appends the answer body to dst and returns it: a JSON
// document in the legacy Google Places Nearby Search shape, results cut to
// q.Limit, runs of newlines collapsed to one, no trailing newline.
//
// On failure it returns an *Error (Status is a Places status such as
// UNKNOWN_ERROR, OVER_QUERY_LIMIT or REQUEST_DENIED); the node turns it into an
// error body with AppendErrorBody. Nearby must respect ctx's deadline.
type Provider interface {
	Nearby(ctx context.Context, q Query, dst []byte) ([]byte, error)
	// Name is the backend name as used in configuration ("geonames", "google", "google-new").
	Name() string
}

// Status values of the legacy API that this package writes or maps errors to.
const (
	StatusOK             = "OK"
	StatusZeroResults    = "ZERO_RESULTS"
	StatusUnknownError   = "UNKNOWN_ERROR"
	StatusOverQueryLimit = "OVER_QUERY_LIMIT"
	StatusRequestDenied  = "REQUEST_DENIED"
	StatusInvalidRequest = "INVALID_REQUEST"
)

// Error is a backend failure with the Places status that fits it.
type Error struct {
	Status  string // UNKNOWN_ERROR, OVER_QUERY_LIMIT, REQUEST_DENIED, INVALID_REQUEST
	Message string // human-readable; never contains an API key
}

func (e *Error) Error() string { return "places: " + e.Status + ": " + e.Message }

// StatusOf maps any error to a Places status: an *Error keeps its own,
// a deadline becomes UNKNOWN_ERROR.
func StatusOf(err error) (status, message string) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Status, pe.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return StatusUnknownError, "places backend timed out"
	}
	return StatusUnknownError, err.Error()
}

// AppendErrorBody appends a Places-shaped error body (empty results, the
// status, an error_message) in the node's own layout: three-space indent and
// `"key" : value`, no trailing newline. The message is written as a JSON
// string (escaped per RFC 8259, invalid UTF-8 replaced by U+FFFD).
func AppendErrorBody(dst []byte, err error) []byte {
	status, msg := StatusOf(err)
	dst = append(dst, "{\n   \"error_message\" : "...)
	dst = appendJSONString(dst, msg)
	dst = append(dst, ",\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : "...)
	dst = appendJSONString(dst, status)
	dst = append(dst, "\n}"...)
	return dst
}

// CollapseNewlines rewrites b in place to the body layout docs/PROTOCOL.md
// (WHATSAT) requires: every run of '\n' becomes one, and leading and
// trailing '\n's go. It returns the shortened slice. Backends and the node
// share it.
func CollapseNewlines(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); r++ {
		if b[r] == '\n' && (w == 0 || b[w-1] == '\n') {
			continue
		}
		b[w] = b[r]
		w++
	}
	for w > 0 && b[w-1] == '\n' {
		w--
	}
	return b[:w]
}
