package load

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/herdnet/herd/codec"
)

// Mix names the protocol and request mix a run sends.
type Mix string

// The request mixes.
const (
	// MixHerd sends IAMAT lines for many distinct clients, and optionally
	// WHATSAT and invalid lines, and checks herd replies.
	MixHerd Mix = "herd"
	// MixEcho sends IAMAT lines and expects each back verbatim.
	MixEcho Mix = "echo"
	// MixRedis sends inline "GEOADD herd lon lat member" and expects :1 or :0.
	MixRedis Mix = "redis"
)

// MaxConns is the most connections one run opens.
const MaxConns = 20000

// Options configure a run. Build them from DefaultOptions; Run validates
// them once and does not change them.
type Options struct {
	Addr     string        // host:port in 127.0.0.0/8 ("localhost" means 127.0.0.1)
	Conns    int           // connections, 1..MaxConns
	Pipeline int           // requests in flight per connection, >= 1
	Duration time.Duration // measured time; ignored when Requests > 0
	Requests int64         // measured requests in total, spread over the connections; 0: use Duration
	Warmup   time.Duration // time run before measuring; its replies are checked, not counted

	// Rate, when > 0, selects open-loop mode: Rate requests per second in
	// total, each connection sending at fixed intervals and latency measured
	// from the intended send time. 0 is closed loop.
	Rate float64

	Mix Mix
	// ClientPrefix starts every client id (herd mix) and Redis member:
	// "<prefix><conn>-<n>". Give concurrent generators loading one herd
	// different prefixes, or updates flooded from one are newer than the
	// other's and its IAMAT replies no longer match. Default "c".
	ClientPrefix string
	// IDsPerConn is how many distinct clients each connection reports for,
	// in turn (1..1,000,000): DefaultIDsPerConn (1000) is the cold
	// workload, 1 the hot one. Client times always grow, so every IAMAT is
	// newer than the one stored.
	IDsPerConn  int
	WhatsatFrac float64 // herd mix: fraction of WHATSAT requests (0..1)
	InvalidFrac float64 // herd mix: fraction of invalid lines (0..1)
	Radius      string  // WHATSAT radius in km, as sent ("10")
	Bound       int     // WHATSAT result bound (1..20)

	PID          int           // server process to read CPU and RSS from; 0: none
	ReplyTimeout time.Duration // longest wait for a reply before the connection counts as failed
	DialTimeout  time.Duration

	// Progress, when not nil, is called from one goroutine every
	// ProgressInterval (default 250 ms) while the run goes on.
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// Progress is a snapshot handed to Options.Progress.
type Progress struct {
	Elapsed   time.Duration // since the first request, warmup included
	Warmup    bool          // still warming up
	Requests  int64         // replies so far, warmup included
	Measured  int64         // replies so far to measured requests
	Errors    int64
	PerSecond float64 // replies per second since the previous snapshot
}

// DefaultOptions returns a 10-second closed-loop herd run with 50
// connections, one request in flight each, against Alford's default port.
func DefaultOptions() Options {
	return Options{
		Addr:         "127.0.0.1:12720",
		Conns:        50,
		Pipeline:     1,
		Duration:     10 * time.Second,
		Warmup:       time.Second,
		Mix:          MixHerd,
		ClientPrefix: "c",
		IDsPerConn:   DefaultIDsPerConn,
		Radius:       "10",
		Bound:        5,
		ReplyTimeout: 10 * time.Second,
		DialTimeout:  5 * time.Second,
	}
}

// ErrNotLoopback is returned for an address outside 127.0.0.0/8.
var ErrNotLoopback = errors.New("load: only addresses in 127.0.0.0/8 may be loaded")

// loopbackAddr checks that addr is host:port with host a literal IPv4
// address in 127.0.0.0/8 (or "localhost") and returns it normalized.
func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("load: address %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip4 := ip.To4(); ip4 == nil || ip4[0] != 127 {
		return "", fmt.Errorf("%w: %q is not (use 127.x.y.z, e.g. 127.0.0.1:%s)", ErrNotLoopback, addr, port)
	}
	return net.JoinHostPort(host, port), nil
}

func (o *Options) validate() error {
	addr, err := loopbackAddr(o.Addr)
	if err != nil {
		return err
	}
	o.Addr = addr
	if o.IDsPerConn == 0 {
		o.IDsPerConn = DefaultIDsPerConn
	}
	switch {
	case o.Conns < 1 || o.Conns > MaxConns:
		return fmt.Errorf("load: conns %d out of range 1..%d", o.Conns, MaxConns)
	case o.Pipeline < 1 || o.Pipeline > 1<<16:
		return fmt.Errorf("load: pipeline %d out of range 1..65536", o.Pipeline)
	case o.Requests < 0:
		return fmt.Errorf("load: negative request count %d", o.Requests)
	case o.Requests == 0 && o.Duration <= 0:
		return errors.New("load: need a duration or a request count")
	case o.Warmup < 0:
		return errors.New("load: negative warmup")
	case o.Rate < 0:
		return fmt.Errorf("load: negative rate %g", o.Rate)
	case o.IDsPerConn < 1 || o.IDsPerConn > 1_000_000:
		return fmt.Errorf("load: ids per connection %d out of range 1..1000000", o.IDsPerConn)
	case o.WhatsatFrac < 0 || o.InvalidFrac < 0 || o.WhatsatFrac+o.InvalidFrac > 1:
		return fmt.Errorf("load: whatsat (%g) and invalid (%g) fractions must be >= 0 and sum to at most 1", o.WhatsatFrac, o.InvalidFrac)
	}
	switch o.Mix {
	case MixHerd:
	case MixEcho, MixRedis:
		if o.WhatsatFrac > 0 || o.InvalidFrac > 0 {
			return fmt.Errorf("load: whatsat and invalid fractions apply to the herd mix only, not %q", o.Mix)
		}
	default:
		return fmt.Errorf("load: unknown mix %q (herd, echo or redis)", o.Mix)
	}
	if o.ClientPrefix == "" {
		o.ClientPrefix = "c"
	}
	for i := 0; i < len(o.ClientPrefix); i++ {
		if codec.IsSpace(o.ClientPrefix[i]) {
			return fmt.Errorf("load: client prefix %q holds white space", o.ClientPrefix)
		}
	}
	if o.Radius == "" {
		o.Radius = "10"
	}
	if o.Bound == 0 {
		o.Bound = 5
	}
	if o.Bound < 1 || o.Bound > 20 {
		return fmt.Errorf("load: WHATSAT bound %d out of range 1..20", o.Bound)
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 10 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 250 * time.Millisecond
	}
	return nil
}

// fdSlack is the descriptors a run needs besides its connections and the
// ones already open: /proc files read during the run and a few spares.
const fdSlack = 8

// raiseNoFile raises the RLIMIT_NOFILE soft limit to the hard limit and
// reports an error when even that is too low for conns connections.
func raiseNoFile(conns int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("load: getrlimit: %w", err)
	}
	open := 64 // a guess, should /proc/self/fd be unreadable
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = len(fds)
	}
	need := uint64(open + conns + fdSlack)
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("load: raising RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < need {
		return fmt.Errorf("load: %d connections need %d file descriptors (with those already open) but RLIMIT_NOFILE is %d (hard limit); raise it (ulimit -Hn, limits.conf) or use fewer connections",
			conns, need, lim.Cur)
	}
	return nil
}
