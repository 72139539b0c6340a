// Package load is herd's load generator: it opens many loopback TCP
// connections to a server under test, keeps requests in flight on each of
// them, checks every reply and reports throughput, latency percentiles,
// errors and the server's CPU and memory cost read from /proc. Latencies are
// recorded in HdrHistogram histograms (github.com/HdrHistogram/hdrhistogram-go,
// three significant figures); a terminal gets a progress bar
// (github.com/schollz/progressbar).
//
// It speaks three request mixes: "herd" (IAMAT with many distinct clients,
// optionally WHATSAT and invalid lines) for herd nodes and the Twisted
// reference node, "echo" (IAMAT lines, replied verbatim) for a line-echo
// server, and "redis" (inline GEOADD) for Redis. Two modes drive them:
// closed loop, where each connection keeps Pipeline requests outstanding,
// and open loop, where requests are scheduled at a fixed total rate and
// latency is measured from each request's intended send time, so that a
// server stall is charged to every request it delayed (no coordinated
// omission). Requests that fell due but that a full pipeline still held
// back when the run stopped are charged the time they had waited, through
// HdrHistogram's RecordCorrectedValue.
//
// Each connection has one writer goroutine, which writes every batch of
// requests with one write call, and one reader goroutine on a bufio.Reader.
// Both regenerate the same deterministic request sequence, so the only
// thing passed between them is a token per request and its timestamp.
//
// Only addresses in 127.0.0.0/8 are accepted: this tool is for measuring
// servers on the same machine, never for loading someone else's.
package load
