package google

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/herdnet/herd/places"
)

// endpoint is a parsed places.Config.BaseURL with its pooled client.
type endpoint struct {
	hc      *fasthttp.HostClient
	origin  string // "https://maps.googleapis.com"
	prefix  string // path prefix without trailing slash, often ""
	key     string
	timeout time.Duration
}

// newEndpoint builds the pooled fasthttp.HostClient for cfg.BaseURL, with
// explicit limits: MaxConns, a dial timeout, read and write timeouts, a wait
// limit for a free connection and a response body cap.
func newEndpoint(cfg places.Config) (*endpoint, error) {
	cfg = cfg.WithDefaults()
	if cfg.Key == "" {
		return nil, fmt.Errorf("places: %s backend needs an API key (places.Config.Key or %s)", cfg.Backend, places.KeyEnv)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("places: bad base URL %q (want http[s]://host[:port][/prefix])", cfg.BaseURL)
	}
	tls := u.Scheme == "https"
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if tls {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	timeout := cfg.Timeout
	dialer := &fasthttp.TCPDialer{Concurrency: 0}
	hc := &fasthttp.HostClient{
		Addr:                addr,
		Name:                "herd-places",
		IsTLS:               tls,
		MaxConns:            cfg.MaxConns,
		MaxConnWaitTimeout:  timeout,
		MaxIdleConnDuration: 30 * time.Second,
		ReadTimeout:         timeout,
		WriteTimeout:        timeout,
		MaxResponseBodySize: cfg.MaxResponseBodySize,
		Dial: func(addr string) (net.Conn, error) {
			return dialer.DialTimeout(addr, timeout)
		},
		// Never retry: a retried request could outlive the caller's deadline.
		MaxIdemponentCallAttempts: 1,
		DisablePathNormalizing:    true,
		SecureErrorLogMessage:     true,
	}
	return &endpoint{
		hc:      hc,
		origin:  u.Scheme + "://" + u.Host,
		prefix:  strings.TrimSuffix(u.EscapedPath(), "/"),
		key:     cfg.Key,
		timeout: timeout,
	}, nil
}

// deadline is the earlier of now+timeout and the context's deadline.
func (e *endpoint) deadline(ctxDeadline time.Time, ok bool) time.Time {
	d := time.Now().Add(e.timeout)
	if ok && ctxDeadline.Before(d) {
		return ctxDeadline
	}
	return d
}

// scrub removes the API key, raw or URL-escaped, from s.
func (e *endpoint) scrub(s string) string {
	if e.key == "" {
		return s
	}
	s = strings.ReplaceAll(s, e.key, "[key]")
	if q := url.QueryEscape(e.key); q != e.key {
		s = strings.ReplaceAll(s, q, "[key]")
	}
	return s
}

// transportError turns a fasthttp error into an *places.Error: UNKNOWN_ERROR, with
// the key scrubbed from the message.
func (e *endpoint) transportError(api string, err error) error {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return &places.Error{Status: places.StatusUnknownError, Message: api + ": request timed out"}
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return &places.Error{Status: places.StatusUnknownError, Message: api + ": response body too large"}
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return &places.Error{Status: places.StatusUnknownError, Message: api + ": too many requests in flight"}
	}
	return &places.Error{Status: places.StatusUnknownError, Message: api + ": " + e.scrub(err.Error())}
}

// httpStatus maps an HTTP error status to the Places status that fits.
func httpStatus(code int) string {
	switch code {
	case fasthttp.StatusUnauthorized, fasthttp.StatusForbidden:
		return places.StatusRequestDenied
	case fasthttp.StatusTooManyRequests:
		return places.StatusOverQueryLimit
	case fasthttp.StatusBadRequest:
		return places.StatusInvalidRequest
	}
	return places.StatusUnknownError
}
