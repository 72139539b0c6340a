package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/places"
)

func init() {
	// HELP and TYPE lines, so that Prometheus knows counters from gauges.
	metrics.ExposeMetadata(true)
}

// Metrics is one node's metrics Set: what the node measures itself (the
// places calls) plus what the admin server reads at scrape time (the
// engine's per-loop counters, the cache size, the links). Each node has its
// own, so herd up's nodes do not mix their figures.
type Metrics struct {
	set      *metrics.Set
	duration *metrics.PrometheusHistogram
	mu       sync.Mutex
	requests map[[2]string]*metrics.Counter // {backend, status}

	// The admin port's own rejections.
	badRequests  *metrics.Counter
	unauthorized *metrics.Counter
	evicted      *metrics.Counter

	// The last exposition rendered, served until it is renderEvery old.
	cached   atomic.Pointer[exposition]
	renderMu sync.Mutex // one render at a time
}

// renderEvery is how long a rendered /metrics exposition is served before
// the next scrape renders a new one. Rendering costs a few hundred
// microseconds of CPU (BenchmarkRender; the process metrics read /proc);
// serving the cached bytes about one (BenchmarkScrape), so scrapes as
// frequent as anyone likes cost the node at most one render per
// renderEvery. Prometheus scrapes every 15 s or so, so
// the figures it stores are never older than this.
var renderEvery = 250 * time.Millisecond

type exposition struct {
	body []byte
	at   time.Time
}

// NewMetrics returns an empty metrics Set for one node.
func NewMetrics() *Metrics {
	m := &Metrics{set: metrics.NewSet(), requests: map[[2]string]*metrics.Counter{}}
	m.duration = m.set.NewPrometheusHistogramExt("herd_places_request_duration_seconds",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})
	m.badRequests = m.set.NewCounter("herd_admin_bad_requests_total")
	m.unauthorized = m.set.NewCounter("herd_admin_unauthorized_total")
	m.evicted = m.set.NewCounter("herd_admin_evicted_total")
	return m
}

// exposition returns the node's exposition, rendered at most renderEvery
// ago. The bytes are shared: never modify them.
func (m *Metrics) exposition(n *Node) []byte {
	if e := m.cached.Load(); e != nil && time.Since(e.at) < renderEvery {
		return e.body
	}
	m.renderMu.Lock()
	defer m.renderMu.Unlock()
	e := m.cached.Load()
	if e != nil && time.Since(e.at) < renderEvery {
		return e.body // rendered while this scrape waited
	}
	var b bytes.Buffer
	if e != nil {
		b.Grow(len(e.body) + len(e.body)/8)
	}
	m.write(&b, n)
	m.cached.Store(&exposition{body: b.Bytes(), at: time.Now()})
	return b.Bytes()
}

func (m *Metrics) request(backend, status string) *metrics.Counter {
	k := [2]string{backend, status}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.requests[k]
	if !ok {
		c = m.set.NewCounter(fmt.Sprintf("herd_places_requests_total{backend=%q,status=%q}", backend, status))
		m.requests[k] = c
	}
	return c
}

// Places returns p instrumented: every call counts in
// herd_places_requests_total{backend,status} and its duration in
// herd_places_request_duration_seconds. WHATSAT calls run off the event
// loops, so the map lookup and the histogram's lock are off the hot path.
func (m *Metrics) Places(p places.Provider) places.Provider {
	if p == nil {
		return nil
	}
	m.request(p.Name(), places.StatusOK) // the series exists from the start
	return &placesMeter{p: p, m: m}
}

type placesMeter struct {
	p places.Provider
	m *Metrics
}

func (pm *placesMeter) Name() string { return pm.p.Name() }

func (pm *placesMeter) Nearby(ctx context.Context, q places.Query, dst []byte) ([]byte, error) {
	start := time.Now()
	out, err := pm.p.Nearby(ctx, q, dst)
	pm.m.duration.UpdateDuration(start)
	status := places.StatusOK
	if err != nil {
		status, _ = places.StatusOf(err)
	}
	pm.m.request(pm.p.Name(), status).Inc()
	return out, err
}

// write writes the node's whole exposition: its Set, the figures read at
// scrape time, then the process and Go runtime metrics.
func (m *Metrics) write(w io.Writer, n *Node) {
	m.set.WritePrometheus(w)
	var es engine.Stats
	if n.Engine != nil {
		es = n.Engine()
	}
	family(w, "herd_connections", "gauge", "Open client and inbound peer connections.")
	fmt.Fprintf(w, "herd_connections %d\n", es.Connections)
	family(w, "herd_connections_accepted_total", "counter", "Connections accepted.")
	fmt.Fprintf(w, "herd_connections_accepted_total %d\n", es.Accepted)
	family(w, "herd_connections_refused_total", "counter", "Connections refused (over a limit).")
	fmt.Fprintf(w, "herd_connections_refused_total %d\n", es.Refused)
	family(w, "herd_lines_total", "counter", "Lines answered, by kind; invalid lines got \"? \".")
	for k, name := range engine.LineKinds {
		fmt.Fprintf(w, "herd_lines_total{kind=%q} %d\n", name, es.Lines[k])
	}
	if es.MaxConns > 0 {
		family(w, "herd_connections_max", "gauge", "The client connection cap in force (limits.max_conns).")
		fmt.Fprintf(w, "herd_connections_max %d\n", es.MaxConns)
	}
	family(w, "herd_connections_closed_total", "counter", "Connections the node cut off, by reason.")
	for k, name := range engine.CloseReasons {
		fmt.Fprintf(w, "herd_connections_closed_total{reason=%q} %d\n", name, es.Closed[k])
	}
	family(w, "herd_whatsat_overloaded_total", "counter", "WHATSATs answered OVER_QUERY_LIMIT at once: too many waiting for the places backend.")
	fmt.Fprintf(w, "herd_whatsat_overloaded_total %d\n", es.Overloaded)
	ready := 1
	if n.Health != nil {
		if ok, _ := n.Health.Ready(); !ok {
			ready = 0
		}
	}
	family(w, "herd_ready", "gauge", "1 while the node is ready (/readyz answers 200).")
	fmt.Fprintf(w, "herd_ready %d\n", ready)
	family(w, "herd_build_info", "gauge", "The build the node runs: module version, Go version, VCS revision.")
	io.WriteString(w, buildInfo())
	if n.Clients != nil {
		family(w, "herd_clients", "gauge", "Clients whose location the node holds.")
		fmt.Fprintf(w, "herd_clients %d\n", n.Clients())
	}
	if n.Links != nil {
		links := n.Links()
		family(w, "herd_peer_link_up", "gauge", "1 while the outbound link to the neighbour is up.")
		for _, l := range links {
			up := 0
			if l.State == peer.StateUp {
				up = 1
			}
			fmt.Fprintf(w, "herd_peer_link_up{peer=%q} %d\n", l.Peer, up)
		}
		family(w, "herd_peer_reconnects_total", "counter", "Times the link came back up after its first up.")
		for _, l := range links {
			fmt.Fprintf(w, "herd_peer_reconnects_total{peer=%q} %d\n", l.Peer, l.Reconnects)
		}
		family(w, "herd_peer_updates_sent_total", "counter", "Updates written to the neighbour, reconciliation included.")
		for _, l := range links {
			fmt.Fprintf(w, "herd_peer_updates_sent_total{peer=%q} %d\n", l.Peer, l.Sent)
		}
		family(w, "herd_peer_pending", "gauge", "Clients whose newest line waits to be sent to the neighbour.")
		for _, l := range links {
			fmt.Fprintf(w, "herd_peer_pending{peer=%q} %d\n", l.Peer, l.Pending)
		}
		family(w, "herd_peer_lag_seconds", "gauge", "Age of the oldest update waiting for the neighbour (0: none waits).")
		for _, l := range links {
			fmt.Fprintf(w, "herd_peer_lag_seconds{peer=%q} %g\n", l.Peer, l.Lag)
		}
		family(w, "herd_peer_updates_coalesced_total", "counter", "Updates that found their client already waiting for the neighbour (one send carries the newest).")
		for _, l := range links {
			fmt.Fprintf(w, "herd_peer_updates_coalesced_total{peer=%q} %d\n", l.Peer, l.Coalesced)
		}
	}
	if n.Snapshot != nil {
		st := n.Snapshot()
		family(w, "herd_snapshot_failures_total", "counter", "Snapshot writes that failed.")
		fmt.Fprintf(w, "herd_snapshot_failures_total %d\n", st.Failures)
		family(w, "herd_snapshot_last_success_timestamp_seconds", "gauge",
			"Unix time of the last snapshot written, or loaded at start; 0 for none.")
		var ts float64
		if !st.LastSuccess.IsZero() {
			ts = float64(st.LastSuccess.UnixMilli()) / 1e3
		}
		fmt.Fprintf(w, "herd_snapshot_last_success_timestamp_seconds %.3f\n", ts)
	}
	metrics.WriteProcessMetrics(w)
}

func family(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}
