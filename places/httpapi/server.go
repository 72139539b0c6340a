package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/herdnet/herd/places"
)

// NearbySearchPath is the legacy Nearby Search path that Server answers.
const NearbySearchPath = "/maps/api/place/nearbysearch/json"

// Server serves a places.Provider over the legacy Nearby Search HTTP API, so that
// a herd (or anything that speaks to Google) can be pointed at an offline
// index:
//
//	GET /maps/api/place/nearbysearch/json?location=LAT,LNG&radius=METRES[&key=...]
//
// It answers 200 with the places.Provider's body, at most 20 results like Google.
// A missing or bad location or radius gets 200 with status INVALID_REQUEST
// (as Google answers), a provider failure 200 with the error body; any
// other path is 404 and any method but GET and HEAD 405. The key parameter
// is accepted and ignored.
type Server struct {
	p       places.Provider
	log     *slog.Logger
	timeout time.Duration
	srv     *fasthttp.Server
	bufs    sync.Pool // *[]byte
}

// ServerConfig tunes a Server. The zero value is usable.
type ServerConfig struct {
	// Logger receives one record per failed provider call and fasthttp's
	// own errors; nil discards them.
	Logger *slog.Logger
	// Timeout bounds one provider call and each read and write on a
	// connection; 0 means 10 seconds.
	Timeout time.Duration
	// MaxConns caps concurrent connections; 0 means 4096.
	MaxConns int
}

// NewServer returns a Server answering from p.
func NewServer(p places.Provider, cfg ServerConfig) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4096
	}
	s := &Server{p: p, log: cfg.Logger, timeout: cfg.Timeout}
	s.bufs.New = func() any { b := make([]byte, 0, 16<<10); return &b }
	s.srv = &fasthttp.Server{
		Handler:            s.handle,
		Name:               "herd-places",
		Concurrency:        cfg.MaxConns,
		ReadTimeout:        cfg.Timeout,
		WriteTimeout:       cfg.Timeout,
		IdleTimeout:        cfg.Timeout,
		MaxRequestBodySize: 4 << 10,
		Logger:             fasthttpLogger{cfg.Logger},
		CloseOnShutdown:    true,
	}
	return s
}

// ListenAndServe listens on the TCP address addr and serves until Shutdown.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves connections from ln until Shutdown; it closes ln.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(ln)
}

// Shutdown stops accepting, closes idle connections and waits for the
// requests in flight to finish. Serve then returns nil.
func (s *Server) Shutdown() error {
	return s.srv.Shutdown()
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != NearbySearchPath {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
		return
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	body := (*bp)[:0]

	q, err := parseNearbyArgs(ctx.QueryArgs())
	if err == nil {
		// Not derived from ctx: a fasthttp.RequestCtx parent would cost a
		// watcher goroutine per request.
		c, cancel := context.WithTimeout(context.Background(), s.timeout)
		body, err = s.p.Nearby(c, q, body)
		cancel()
		if err != nil {
			s.log.Warn("places: provider failed", "backend", s.p.Name(), "err", err)
		}
	}
	if err != nil {
		body = places.AppendErrorBody(body[:0], err)
	}
	ctx.SetContentType("application/json; charset=UTF-8")
	ctx.SetBody(body)
	*bp = body
}

// parseNearbyArgs reads location and radius (metres, 0 < radius <= 50000);
// the limit is Google's page size of 20.
func parseNearbyArgs(args *fasthttp.Args) (places.Query, error) {
	bad := func(msg string) (places.Query, error) {
		return places.Query{}, &places.Error{Status: places.StatusInvalidRequest, Message: msg}
	}
	loc := args.Peek("location")
	comma := bytes.IndexByte(loc, ',')
	if comma < 0 {
		return bad("location must be lat,lng")
	}
	lat, err1 := strconv.ParseFloat(string(bytes.TrimSpace(loc[:comma])), 64)
	lng, err2 := strconv.ParseFloat(string(bytes.TrimSpace(loc[comma+1:])), 64)
	if err1 != nil || err2 != nil || !(lat >= -90 && lat <= 90) || !(lng >= -180 && lng <= 180) {
		return bad("location must be lat,lng in decimal degrees")
	}
	radius, err := strconv.ParseFloat(string(args.Peek("radius")), 64)
	if err != nil || !(radius > 0) || math.IsInf(radius, 0) {
		return bad("radius must be a positive number of metres")
	}
	return places.Query{Lat: lat, Lon: lng, RadiusKm: math.Min(radius, places.MaxRadiusKm*1000) / 1000, Limit: places.MaxLimit}, nil
}

// fasthttpLogger sends fasthttp's messages to slog.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("places: fasthttp", "msg", fmt.Sprintf(format, args...))
}
