package google

import (
	"context"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/herdnet/herd/places"
)

// Legacy is the legacy Nearby Search backend:
//
//	GET {base}/maps/api/place/nearbysearch/json?location=LAT,LNG&radius=M&key=KEY
//
// over a pooled fasthttp.HostClient. The body is kept as Google wrote it;
// only the results beyond the bound are spliced out, then newline runs are
// collapsed and trailing newlines dropped (see appendCutBody).
//
// Errors: a 200 answer is passed through whatever its status: OK and
// ZERO_RESULTS, but also REQUEST_DENIED, OVER_QUERY_LIMIT, INVALID_REQUEST
// and UNKNOWN_ERROR, since such a body is already a valid Places answer
// carrying Google's own error_message (and its results array is empty). HTTP
// 401/403 become REQUEST_DENIED, 429 OVER_QUERY_LIMIT, 400 INVALID_REQUEST;
// other HTTP statuses (5xx), timeouts, transport failures and bodies that are
// not a JSON object with a results array are *places.Error UNKNOWN_ERROR. The key
// never appears in an error.
type Legacy struct {
	ep *endpoint
}

// NewGoogle returns the legacy backend for cfg (BaseURL, Key, Timeout,
// MaxConns, MaxResponseBodySize; zero values get places.DefaultConfig's, an empty
// key comes from HERD_PLACES_KEY).
func NewLegacy(cfg places.Config) (*Legacy, error) {
	cfg.Backend = places.BackendGoogle
	ep, err := newEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	return &Legacy{ep: ep}, nil
}

// Name implements places.Provider.
func (g *Legacy) Name() string { return places.BackendGoogle }

const legacyAPI = "Google Places (legacy)"

// Nearby implements places.Provider.
func (g *Legacy) Nearby(ctx context.Context, q places.Query, dst []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	var buf [512]byte
	uri := append(buf[:0], g.ep.origin...)
	uri = append(uri, g.ep.prefix...)
	uri = append(uri, "/maps/api/place/nearbysearch/json?location="...)
	uri = strconv.AppendFloat(uri, q.Lat, 'f', -1, 64)
	uri = append(uri, ',')
	uri = strconv.AppendFloat(uri, q.Lon, 'f', -1, 64)
	uri = append(uri, "&radius="...)
	uri = strconv.AppendInt(uri, radiusMetres(q.RadiusKm), 10)
	uri = append(uri, "&key="...)
	uri = append(uri, url.QueryEscape(g.ep.key)...)
	req.SetRequestURIBytes(uri)
	req.Header.SetMethod(fasthttp.MethodGet)

	deadline, ok := ctx.Deadline()
	if err := g.ep.hc.DoDeadline(req, resp, g.ep.deadline(deadline, ok)); err != nil {
		return dst, g.ep.transportError(legacyAPI, err)
	}
	if code := resp.StatusCode(); code != fasthttp.StatusOK {
		return dst, &places.Error{Status: httpStatus(code), Message: legacyAPI + ": HTTP " + strconv.Itoa(code)}
	}
	body, err := resp.BodyUncompressed()
	if err != nil {
		return dst, &places.Error{Status: places.StatusUnknownError, Message: legacyAPI + ": bad response encoding"}
	}
	out, err := appendCutBody(dst, body, min(max(q.Limit, 1), places.MaxLimit))
	if err != nil {
		return dst, &places.Error{Status: places.StatusUnknownError, Message: legacyAPI + ": " + err.Error()}
	}
	return out, nil
}

// radiusMetres converts the WHATSAT radius to whole metres, 1..50000.
func radiusMetres(km float64) int64 {
	m := int64(km*1000 + 0.5)
	return min(max(m, 1), places.MaxRadiusKm*1000)
}
