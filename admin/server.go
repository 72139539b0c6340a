package admin

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/peer"
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
}

// Server is a node's admin HTTP server. Start it with Start, stop it with
// Stop; both from any goroutine, Stop safe before Start and twice.
type Server struct {
	node Node
	log  *slog.Logger
	srv  *fasthttp.Server
	ln   net.Listener
	mu   sync.Mutex
	done chan struct{}
}

// New returns the admin server of node; logger may be nil.
func New(node Node, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if node.Metrics == nil {
		node.Metrics = NewMetrics()
	}
	s := &Server{node: node, log: logger}
	s.srv = &fasthttp.Server{
		Handler: s.handle,
		Name:    "herd-admin",
		// Probes and scrapes are tiny requests: a client that takes seconds
		// to send its headers is cut off, and no one address may hold more
		// than a few connections, so half-sent requests from one host cannot
		// take every slot and fail the liveness probe.
		ReadTimeout:        3 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        time.Minute,
		MaxRequestBodySize: 4096,
		Concurrency:        256,
		MaxConnsPerIP:      32,
		NoDefaultDate:      true,
		Logger:             fasthttpLogger{logger},
	}
	return s
}

// Start listens on addr (port 0 picks a free one) and serves until Stop.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: admin: %w", s.node.Name, err)
	}
	s.mu.Lock()
	s.ln, s.done = ln, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil {
			s.log.Error("admin server failed", "err", err)
		}
	}()
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
	ln, done := s.ln, s.done
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
	switch string(ctx.Path()) {
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		s.node.Metrics.write(ctx, &s.node)
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
	return st
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Warn("admin: " + fmt.Sprintf(format, args...))
}
