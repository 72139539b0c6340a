package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/peer"
	"github.com/herdnet/herd/snapshot"
)

// Node is what the admin port reads of the node it serves. Every func is
// called per request, from fasthttp's goroutines; nil ones report nothing.
type Node struct {
	Name string
	// Listen is the node's client address (its real port once started).
	Listen func() string
	// Clients is how many clients the node holds.
	Clients func() int
	// Engine sums the engine's per-loop counters (nil for an I/O model
	// without them).
	Engine func() engine.Stats
	// Links reports the node's outbound peer links.
	Links func() []peer.LinkStats
	// Herd lists the herd's nodes for /herd and the page.
	Herd func() Topology
	// Health decides /readyz; nil: ready.
	Health *Health
	// Metrics is the node's own Set; nil: a new one.
	Metrics *Metrics
	// Snapshot reports the node's snapshot writes; nil for a node without
	// a data directory.
	Snapshot func() snapshot.Status
	// Token, when set, is required as "Authorization: Bearer TOKEN" by
	// every endpoint but /livez and /readyz (security.admin_token).
	Token string
}

// Topology is /herd: every node of the config, its neighbours and its
// admin address, so the page can draw the herd and poll every node.
type Topology struct {
	Nodes []TopologyNode `json:"nodes"`
}

// TopologyNode is one node of /herd.
type TopologyNode struct {
	Name      string   `json:"name"`
	Listen    string   `json:"listen"`
	Admin     string   `json:"admin"` // host:port, "" when it has none
	Neighbors []string `json:"neighbors"`
}

// Status is /status.
type Status struct {
	Name        string `json:"name"`
	Listen      string `json:"listen"`
	Ready       bool   `json:"ready"`
	Clients     int    `json:"clients"`
	Connections int64  `json:"connections"`
	// Requests counts the client commands answered (IAMAT, WHATSAT and
	// invalid lines); Lines every line, peer updates included. With Time
	// (the node's clock, Unix seconds) two readings give a rate.
	Requests uint64  `json:"requests"`
	Lines    uint64  `json:"lines"`
	Time     float64 `json:"time"`
	// Links are the outbound peer links.
	Links []peer.LinkStats `json:"links"`
	// Snapshot is nil for a node without a data directory.
	Snapshot *SnapshotStatus `json:"snapshot,omitempty"`
}

// SnapshotStatus is the node's snapshot writes in /status.
type SnapshotStatus struct {
	// LastSuccess is when the last snapshot was written (or, before the
	// first write, the one loaded at start was); "" for none. RFC 3339.
	LastSuccess string `json:"last_success"`
	// LastError is why the last write failed, "" when it succeeded;
	// LastErrorTime is when (RFC 3339, "" for none).
	LastError     string `json:"last_error"`
	LastErrorTime string `json:"last_error_time"`
	// Failures counts the writes that failed since the node started.
	Failures uint64 `json:"failures"`
}

// Server is a node's admin HTTP server. Start it with Start, stop it with
// Stop; both from any goroutine, Stop safe before Start and twice.
type Server struct {
	node     Node
	log      *slog.Logger
	srv      *fasthttp.Server
	complain *complaints
	every    time.Duration     // summaryEvery when New ran
	bearer   [sha256.Size]byte // of the token; zero without one
	ln       net.Listener
	mu       sync.Mutex
	done     chan struct{}
	stop     chan struct{} // closed by Stop: ends the summary goroutine
	wg       sync.WaitGroup
}

// Connection bounds of the admin port (see guard).
const (
	maxConnsPerAddr = 32
	maxConns        = 256
)

// New returns the admin server of node; logger may be nil.
func New(node Node, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if node.Metrics == nil {
		node.Metrics = NewMetrics()
	}
	s := &Server{node: node, log: logger, complain: &complaints{log: logger, count: node.Metrics.badRequests}, every: summaryEvery}
	if node.Token != "" {
		s.bearer = sha256.Sum256([]byte(node.Token))
	}
	s.srv = &fasthttp.Server{
		Handler: s.handle,
		Name:    "herd-admin",
		// Probes and scrapes are tiny requests: a client that takes seconds
		// to send its headers is cut off. The connection bounds are the
		// listener's (guard), which closes the oldest connections rather
		// than refusing new ones; fasthttp's own bound is set above them so
		// that it never refuses either.
		ReadTimeout:        3 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        time.Minute,
		MaxRequestBodySize: 4096,
		Concurrency:        2 * maxConns,
		NoDefaultDate:      true,
		Logger:             s.complain,
		ErrorHandler:       s.complain.errorHandler,
	}
	return s
}

// Start listens on addr (port 0 picks a free one) and serves until Stop.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: admin: %w", s.node.Name, err)
	}
	g := newGuard(ln, maxConnsPerAddr, maxConns, s.node.Metrics.evicted.Inc)
	s.mu.Lock()
	s.ln, s.done, s.stop = g, make(chan struct{}), make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(g); err != nil {
			s.log.Error("admin server failed", "err", err)
		}
	}()
	s.wg.Go(func() {
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.complain.flush(s.every)
			case <-s.stop:
				return
			}
		}
	})
	return nil
}

// Addr is the address the admin port listens on ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop closes the listener and waits, within ctx, for open requests.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	ln, done, stop := s.ln, s.done, s.stop
	s.ln = nil
	s.mu.Unlock()
	if ln == nil {
		return nil
	}
	err := s.srv.ShutdownWithContext(ctx)
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	close(stop)
	s.wg.Wait()
	s.complain.flush(s.every)
	return err
}

//go:embed page.html
var page []byte

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	path := ctx.Path()
	if !s.authorized(ctx, path) {
		s.node.Metrics.unauthorized.Inc()
		ctx.Error("unauthorized\n", fasthttp.StatusUnauthorized) // resets the headers
		h.Set("WWW-Authenticate", "Bearer")
		return
	}
	switch string(path) {
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		ctx.Response.SetBodyRaw(s.node.Metrics.exposition(&s.node))
	case "/livez":
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok\n")
	case "/readyz":
		ctx.SetContentType("text/plain; charset=utf-8")
		ready, why := true, "ok"
		if s.node.Health != nil {
			ready, why = s.node.Health.Ready()
		}
		if !ready {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		}
		ctx.SetBodyString(why + "\n")
	case "/status":
		s.json(ctx, s.Status())
	case "/herd":
		var t Topology
		if s.node.Herd != nil {
			t = s.node.Herd()
		}
		s.json(ctx, t)
	case "/", "/index.html":
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBody(page)
	default:
		ctx.Error("not found\n", fasthttp.StatusNotFound)
	}
}

// authorized reports whether the request may read path: always for the
// health probes and without a token; otherwise only with the token, in
// "Authorization: Bearer TOKEN", compared in constant time (as hashes, so
// that not even its length shows).
func (s *Server) authorized(ctx *fasthttp.RequestCtx, path []byte) bool {
	if s.node.Token == "" || string(path) == "/livez" || string(path) == "/readyz" {
		return true
	}
	const scheme = "Bearer "
	got := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(got) < len(scheme) || !bytes.EqualFold(got[:len(scheme)], []byte(scheme)) {
		return false
	}
	sum := sha256.Sum256(got[len(scheme):])
	return subtle.ConstantTimeCompare(sum[:], s.bearer[:]) == 1
}

func (s *Server) json(ctx *fasthttp.RequestCtx, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b.Bytes())
}

// Status is the node's state as /status reports it.
func (s *Server) Status() Status {
	n := &s.node
	st := Status{Name: n.Name, Ready: true, Links: []peer.LinkStats{}, Time: float64(time.Now().UnixMicro()) / 1e6}
	if n.Listen != nil {
		st.Listen = n.Listen()
	}
	if n.Health != nil {
		st.Ready, _ = n.Health.Ready()
	}
	if n.Clients != nil {
		st.Clients = n.Clients()
	}
	if n.Engine != nil {
		es := n.Engine()
		st.Connections = es.Connections
		for _, v := range es.Lines {
			st.Lines += v
		}
		st.Requests = es.Lines[engine.LineIAMAT] + es.Lines[engine.LineWHATSAT] + es.Lines[engine.LineInvalid]
	}
	if n.Links != nil {
		st.Links = append(st.Links, n.Links()...)
	}
	if n.Snapshot != nil {
		sn := n.Snapshot()
		st.Snapshot = &SnapshotStatus{LastSuccess: rfc3339(sn.LastSuccess), LastErrorTime: rfc3339(sn.LastErrorTime), Failures: sn.Failures}
		if sn.LastError != nil {
			st.Snapshot.LastError = sn.LastError.Error()
		}
	}
	return st
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
