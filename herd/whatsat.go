package herd

import (
	"bytes"
	"context"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/places"
)

// WhatsatQuery is a WHATSAT's radius and bound, already validated.
type WhatsatQuery struct {
	RadiusKm float64
	Bound    int
}

// ErrOverloaded is the failure a node reports when it runs too many backend
// calls to take another.
var ErrOverloaded = &places.Error{Status: places.StatusOverQueryLimit, Message: "herd: too many places requests in flight on this node"}

// MaxInFlight is how many backend calls the node runs at once.
func (n *Node) MaxInFlight() int { return n.maxInFlight }

// WHATSAT answers a WHATSAT about the client whose entry is e: the stored AT
// line, "\n", the places answer and "\n\n", appended to dst. It blocks for
// the backend call (at most the node's places timeout): never call it on an
// event loop. A failed call still answers, with a Places-shaped error body.
func (n *Node) WHATSAT(ctx context.Context, dst []byte, e *Entry, q WhatsatQuery) []byte {
	var cmd codec.Command
	if err := codec.Parse(e.Line, &cmd); err != nil || cmd.Kind != codec.KindAT {
		// Stored lines are always valid AT lines; this cannot happen.
		return n.WHATSATFailed(dst, e, &places.Error{Status: places.StatusUnknownError, Message: "herd: stored line unreadable"})
	}
	ctx, cancel := context.WithTimeout(ctx, n.placesTimeout)
	defer cancel()
	dst = appendLine(dst, e)
	p := len(dst)
	lat, lon := cmd.LatLon()
	pq := places.Query{Lat: lat, Lon: lon, RadiusKm: q.RadiusKm, Limit: q.Bound}
	body, err := n.places.Nearby(ctx, pq, dst)
	if err == nil && len(bytes.Trim(body[p:], "\n")) == 0 {
		err = &places.Error{Status: places.StatusUnknownError, Message: "herd: places backend returned an empty answer"}
	}
	if err != nil {
		body = places.AppendErrorBody(dst[:p], err)
	}
	return finishBody(body, p)
}

// WHATSATFailed answers a WHATSAT whose backend call failed with err.
func (n *Node) WHATSATFailed(dst []byte, e *Entry, err error) []byte {
	dst = appendLine(dst, e)
	p := len(dst)
	return finishBody(places.AppendErrorBody(dst, err), p)
}

func appendLine(dst []byte, e *Entry) []byte {
	dst = append(dst, e.Line...)
	return append(dst, '\n')
}

// finishBody enforces the layout of docs/PROTOCOL.md (WHATSAT) on the body
// that starts at dst[p:] whatever the backend returned: runs of newlines
// become one, trailing newlines go, and the reply ends with "\n\n" (its
// only empty line).
func finishBody(dst []byte, p int) []byte {
	dst = dst[:p+len(places.CollapseNewlines(dst[p:]))]
	return append(dst, '\n', '\n')
}
