package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// summaryEvery is how often the admin port logs a summary of the requests
// it rejected meanwhile (nothing when there were none).
var summaryEvery = 10 * time.Second

// snippetMax bounds the bytes of a rejected request that reach the log.
const snippetMax = 64

// complaints stands between fasthttp and the node's log. fasthttp reports
// a malformed, truncated or oversized request with the request's bytes in
// the message; logged as they come, a client could grow the log with its
// own text as fast as it sends. Here each one is counted
// (herd_admin_bad_requests_total) and remembered, and flush writes one
// line per interval: how many, and the last one's address and a quoted
// snippet of at most snippetMax bytes. The log grows with time, not with
// traffic. Any goroutine.
type complaints struct {
	log   *slog.Logger
	count *metrics.Counter
	mu    sync.Mutex
	n     uint64 // since the last flush
	from  string // the last one's remote address
	last  string // the last one's message, cut to snippetMax bytes
}

// Printf is fasthttp's Logger.
func (c *complaints) Printf(format string, args ...any) {
	from := ""
	var msg string
	// The worker pool's "error when serving connection %q<->%q: %v".
	if len(args) == 3 {
		if err, ok := args[2].(error); ok {
			if a, ok := args[1].(net.Addr); ok {
				from = a.String()
			}
			msg = err.Error()
		}
	}
	if msg == "" {
		msg = fmt.Sprintf(format, args...)
	}
	c.add(from, msg)
}

// errorHandler is fasthttp's ErrorHandler: the reply to a request that did
// not parse. An oversized header is counted here, since fasthttp does not
// log it; the other errors reach Printf.
func (c *complaints) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr *net.OpError
	switch {
	case errors.As(err, &small):
		c.add(ctx.RemoteAddr().String(), err.Error())
		ctx.Error("request header too large\n", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.As(err, &netErr) && netErr.Timeout():
		ctx.Error("request timeout\n", fasthttp.StatusRequestTimeout)
	default:
		ctx.Error("bad request\n", fasthttp.StatusBadRequest)
	}
}

func (c *complaints) add(from, msg string) {
	c.count.Inc()
	msg = strings.TrimPrefix(msg, "error when reading request headers: ")
	if len(msg) > snippetMax {
		msg = msg[:snippetMax]
	}
	c.mu.Lock()
	c.n++
	c.from = from
	c.last = strings.Clone(msg) // not a view of the whole message
	c.mu.Unlock()
}

// flush logs one summary of the complaints since the last flush, if any.
func (c *complaints) flush(interval time.Duration) {
	c.mu.Lock()
	n, from, last := c.n, c.from, c.last
	c.n = 0
	c.mu.Unlock()
	if n == 0 {
		return
	}
	c.log.Warn("admin: bad requests rejected", "count", n, "interval", interval.String(),
		"last_from", from, "last", strconv.QuoteToASCII(last))
}
