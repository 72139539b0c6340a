// Package google holds the two Google backends, each over one pooled
// fasthttp.HostClient with MaxConns, timeouts and MaxResponseBodySize, and
// no retries: Legacy (Nearby Search, whose bodies are kept byte for byte:
// results beyond the bound are spliced out by a small scanner, never
// re-serialized) and PlacesAPI (Places API (New) searchNearby, converted to
// the legacy shape). The key comes from places.Config.Key or
// HERD_PLACES_KEY and is scrubbed from every error. Only this package
// imports fasthttp's client.
package google
