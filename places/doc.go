// Package places answers "what is near this point" for WHATSAT.
//
// Three backends sit behind one Provider interface: geonames, an offline
// spatial index over GeoNames data embedded in the binary (the default, no key
// and no network); google, the legacy Nearby Search over a pooled
// fasthttp.HostClient; and google-new, Places API (New) searchNearby, converted
// to the legacy shape. Only this package imports fasthttp's client. New picks
// one from a Config; the Google key comes from Config.Key or HERD_PLACES_KEY.
//
// Every backend returns the legacy Nearby Search JSON layout (three-space
// indent, `"key" : value`), results cut to the bound, newline runs collapsed
// and no trailing newline, so the node can append it to a WHATSAT reply as is.
// Google's legacy bodies are kept byte for byte (results beyond the bound are
// spliced out by a small scanner, never re-serialized); the node's own
// backends write the same layout with an appender (layout.go).
//
// The geonames backend keeps places in an R-tree (tidwall/rtree), searches
// a box that is split at the antimeridian and widened to all longitudes when
// the circle holds a pole, filters by exact great-circle distance and ranks
// like Google's default prominence: the populated place nearest the point
// (the place the point is in) first, then by population, then distance. A query
// allocates nothing. The embedded data is GeoNames' cities500 (CC BY 4.0,
// see NOTICE), regenerated with go generate (cmd/placesgen); any full
// GeoNames dump can be loaded instead through Config.DataFile.
//
// Server serves any Provider over the legacy HTTP API, so that a herd or a
// Google client can run against the offline index.
package places
