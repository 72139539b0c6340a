package cli

import (
	"fmt"
	"net"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"
)

// serveDebug serves Go's profiles (/debug/pprof/) on addr with fasthttp, for
// `go tool pprof http://addr/debug/pprof/profile`. It returns a stop func.
func serveDebug(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if strings.HasPrefix(string(ctx.Path()), "/debug/pprof") {
				pprofhandler.PprofHandler(ctx)
				return
			}
			ctx.Error("not found: try /debug/pprof/", fasthttp.StatusNotFound)
		},
		Name: "herd-debug",
	}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Shutdown() }, nil
}
