package google

import (
	"context"
	"strconv"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/herdnet/herd/places"
)

// FieldMask is the X-Goog-FieldMask the google-new backend sends:
// only the fields the legacy shape can carry.
const FieldMask = "places.id,places.displayName,places.location,places.viewport," +
	"places.types,places.shortFormattedAddress,places.businessStatus"

// PlacesAPI is the Places API (New) backend:
//
//	POST {base}/v1/places:searchNearby
//	X-Goog-Api-Key: KEY
//	X-Goog-FieldMask: FieldMask
//	{"maxResultCount":N,"locationRestriction":{"circle":{"center":{...},"radius":M}}}
//
// The answer is converted to the legacy shape with the node's own layout:
// id becomes place_id, displayName.text name, location and viewport
// geometry, shortFormattedAddress vicinity, businessStatus business_status,
// types types. Status is OK, or ZERO_RESULTS when no place came back.
//
// Errors ({"error":{"code":403,"message":..,"status":"PERMISSION_DENIED"}})
// become *places.Error: PERMISSION_DENIED and UNAUTHENTICATED REQUEST_DENIED,
// RESOURCE_EXHAUSTED OVER_QUERY_LIMIT, INVALID_ARGUMENT INVALID_REQUEST,
// anything else (and timeouts, transport failures, undecodable bodies)
// UNKNOWN_ERROR; the message is Google's, with the key scrubbed.
type PlacesAPI struct {
	ep *endpoint
}

// NewGoogleNew returns the Places API (New) backend for cfg.
func NewPlacesAPI(cfg places.Config) (*PlacesAPI, error) {
	cfg.Backend = places.BackendGoogleNew
	ep, err := newEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	return &PlacesAPI{ep: ep}, nil
}

// Name implements places.Provider.
func (g *PlacesAPI) Name() string { return places.BackendGoogleNew }

const newAPI = "Google Places (New)"

type newLatLng struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type newPlace struct {
	ID          string `json:"id"`
	DisplayName struct {
		Text string `json:"text"`
	} `json:"displayName"`
	Location *newLatLng `json:"location"`
	Viewport *struct {
		Low  newLatLng `json:"low"`
		High newLatLng `json:"high"`
	} `json:"viewport"`
	Types                 []string `json:"types"`
	ShortFormattedAddress string   `json:"shortFormattedAddress"`
	BusinessStatus        string   `json:"businessStatus"`
}

type newResponse struct {
	Places []newPlace `json:"places"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// Nearby implements places.Provider.
func (g *PlacesAPI) Nearby(ctx context.Context, q places.Query, dst []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	limit := min(max(q.Limit, 1), places.MaxLimit)
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	req.SetRequestURI(g.ep.origin + g.ep.prefix + "/v1/places:searchNearby")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("X-Goog-Api-Key", g.ep.key)
	req.Header.Set("X-Goog-FieldMask", FieldMask)
	var buf [256]byte
	req.SetBody(appendSearchNearby(buf[:0], q, limit))

	deadline, ok := ctx.Deadline()
	if err := g.ep.hc.DoDeadline(req, resp, g.ep.deadline(deadline, ok)); err != nil {
		return dst, g.ep.transportError(newAPI, err)
	}
	body, err := resp.BodyUncompressed()
	if err != nil {
		return dst, &places.Error{Status: places.StatusUnknownError, Message: newAPI + ": bad response encoding"}
	}
	return g.appendAnswer(dst, resp.StatusCode(), body, limit)
}

// appendAnswer decodes Google's answer (HTTP status code, body) with
// go-json and appends the legacy body of at most limit places to dst, or
// returns a *places.Error for an error answer or a body it cannot decode.
func (g *PlacesAPI) appendAnswer(dst []byte, code int, body []byte, limit int) ([]byte, error) {
	var r newResponse
	decErr := json.Unmarshal(body, &r)
	if r.Error != nil || code != fasthttp.StatusOK {
		return dst, g.apiError(code, &r)
	}
	if decErr != nil {
		return dst, &places.Error{Status: places.StatusUnknownError, Message: newAPI + ": malformed JSON body"}
	}
	return appendNewPlaces(dst, r.Places, limit), nil
}

// appendSearchNearby writes the request body.
func appendSearchNearby(dst []byte, q places.Query, limit int) []byte {
	dst = append(dst, `{"maxResultCount":`...)
	dst = strconv.AppendInt(dst, int64(limit), 10)
	dst = append(dst, `,"locationRestriction":{"circle":{"center":{"latitude":`...)
	dst = strconv.AppendFloat(dst, q.Lat, 'f', -1, 64)
	dst = append(dst, `,"longitude":`...)
	dst = strconv.AppendFloat(dst, q.Lon, 'f', -1, 64)
	dst = append(dst, `},"radius":`...)
	dst = strconv.AppendInt(dst, radiusMetres(q.RadiusKm), 10)
	return append(dst, `}}}`...)
}

func (g *PlacesAPI) apiError(code int, r *newResponse) error {
	status := httpStatus(code)
	msg := newAPI + ": HTTP " + strconv.Itoa(code)
	if e := r.Error; e != nil {
		switch e.Status {
		case "PERMISSION_DENIED", "UNAUTHENTICATED":
			status = places.StatusRequestDenied
		case "RESOURCE_EXHAUSTED":
			status = places.StatusOverQueryLimit
		case "INVALID_ARGUMENT":
			status = places.StatusInvalidRequest
		case "":
		default:
			status = places.StatusUnknownError
		}
		if e.Status != "" {
			msg += " " + e.Status
		}
		if e.Message != "" {
			msg += ": " + g.ep.scrub(e.Message)
		}
	}
	if status == places.StatusOK || status == "" {
		status = places.StatusUnknownError
	}
	return &places.Error{Status: status, Message: msg}
}

// appendNewPlaces writes the legacy body for found, at most limit of them;
// a place without a location is skipped (the legacy shape needs one).
func appendNewPlaces(dst []byte, found []newPlace, limit int) []byte {
	dst = places.AppendBodyStart(dst, nil)
	n := 0
	for i := range found {
		if n == limit {
			break
		}
		p := &found[i]
		if p.Location == nil {
			continue
		}
		r := places.Result{
			Lat: p.Location.Latitude, Lng: p.Location.Longitude,
			BusinessStatus: p.BusinessStatus,
			Name:           p.DisplayName.Text,
			PlaceID:        p.ID,
			Types:          p.Types,
			Vicinity:       p.ShortFormattedAddress,
		}
		if v := p.Viewport; v != nil {
			r.HasViewport = true
			r.NE = [2]float64{v.High.Latitude, v.High.Longitude}
			r.SW = [2]float64{v.Low.Latitude, v.Low.Longitude}
		}
		dst = places.AppendResult(dst, n, &r)
		n++
	}
	status := places.StatusOK
	if n == 0 {
		status = places.StatusZeroResults
	}
	return places.AppendBodyEnd(dst, n, status)
}
