// Package admin is a node's operations port: Prometheus metrics (/metrics),
// health checks (/livez, /readyz), the node's state as JSON (/status), the
// herd's topology with every node's admin address (/herd), and a live page
// of the whole herd (/) that reads every node's /status from the browser.
// It runs on fasthttp, on its own listener, never on the client port. Each
// node has its own metrics Set, so several nodes in one process (herd up)
// each export only their own figures; the engine's per-event-loop counters
// are summed when scraped, so counting costs the request path no
// allocation and no shared cache line; the exposition is rendered at most
// once per short interval and its bytes served to every scrape meanwhile.
//
// The port defends itself: an optional Bearer token guards every endpoint
// but the probes (auth in server.go); the listener closes an address's
// oldest connection rather than refuse a new one, so slow clients cannot
// starve the probes (guard.go); and malformed requests are counted and
// summarised in the log, never logged one by one (complaints.go).
package admin
