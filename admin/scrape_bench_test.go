package admin

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/peer"
)

// scrapeNode is a node with the figures a real one exposes: engine
// counters, a cache size and four links.
func scrapeNode() Node {
	links := make([]peer.LinkStats, 4)
	for i := range links {
		links[i] = peer.LinkStats{Peer: []string{"Bailey", "Bona", "Campbell", "Clark"}[i], Since: time.Now(), Sent: 12345, Reconnects: 1}
	}
	return Node{
		Name:    "Alford",
		Clients: func() int { return 1000 },
		Engine:  func() engine.Stats { return engine.Stats{Connections: 10, Accepted: 100} },
		Links:   func() []peer.LinkStats { return links },
	}
}

func scrapeCtx() *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/metrics")
	ctx.Request.Header.SetMethod(fasthttp.MethodGet)
	return &ctx
}

// BenchmarkScrape is the admin handler's cost of one /metrics scrape, in a
// tight loop: what a scraper that polls far more often than the exposition
// is re-rendered costs the node per request.
func BenchmarkScrape(b *testing.B) {
	s := New(scrapeNode(), nil)
	ctx := scrapeCtx()
	b.ReportAllocs()
	for b.Loop() {
		s.handle(ctx)
		ctx.Response.Reset()
	}
}

// BenchmarkRender is the cost of rendering the whole exposition once.
func BenchmarkRender(b *testing.B) {
	n := scrapeNode()
	m := NewMetrics()
	b.ReportAllocs()
	for b.Loop() {
		m.cached.Store(nil)
		b.SetBytes(int64(len(m.exposition(&n))))
	}
}
