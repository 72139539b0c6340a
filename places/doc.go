// Package places is the interface between a node and a Places backend:
// Query (one WHATSAT question), Provider (what answers it), Error and the
// statuses of Google's legacy Nearby Search API, AppendErrorBody, the
// legacy body layout every backend writes (layout.go), and
// CollapseNewlines, the one function that enforces the body layout of
// docs/PROTOCOL.md (WHATSAT). It links no HTTP or JSON client and no data,
// so the domain package herd can depend on it.
//
// The backends live below it: places/geonames (the offline index embedded
// in the binary, the default), places/google (legacy Nearby Search and
// Places API (New) over pooled fasthttp clients), places/provider (picks
// one from a Config) and places/httpapi (serves any Provider over the
// legacy HTTP API, as `herd places-server`).
//
// Every backend returns the legacy Nearby Search JSON layout (three-space
// indent, `"key" : value`), results cut to the bound, newline runs collapsed
// and no trailing newline, so the node can append it to a WHATSAT reply as is.
package places
