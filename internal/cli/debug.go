package cli

import (
	"fmt"
	"net"
	"runtime/metrics"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"
)

// serveDebug serves Go's profiles (/debug/pprof/) on addr with fasthttp, for
// `go tool pprof http://addr/debug/pprof/profile`, and /debug/herd/cpu
// (cpuStats). It returns a stop func.
func serveDebug(addr string) (func(), error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, UsageErr("--debug-addr %q: want host:port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/debug/herd/cpu" {
				ctx.SetBodyString(cpuStats())
				return
			}
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

// cpuStats is "gc_cpu_seconds process_cpu_seconds": the CPU time the
// garbage collector used (runtime/metrics /cpu/classes/gc/total) and the
// whole process's (user and system, getrusage), both since start. The
// benchmark runner reads it before and after a run for its GC column.
func cpuStats() string {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	gc := 0.0
	if s[0].Value.Kind() == metrics.KindFloat64 {
		gc = s[0].Value.Float64()
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return fmt.Sprintf("%.6f %.6f\n", gc, cpu)
}
