package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/codec"
)

// maxExamples is how many error examples a Result keeps.
const maxExamples = 5

// readBufSize is each connection's read buffer; a reply line longer than
// this is an error.
const readBufSize = 64 << 10

// Latency holds latency statistics in microseconds.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
}

// Result is what a run measured. Requests, latency and errors cover the
// measured interval only (warmup excluded), except that errors found
// during warmup count too.
type Result struct {
	Addr     string  `json:"addr"`
	Mix      Mix     `json:"mix"`
	Mode     string  `json:"mode"` // "closed" or "open"
	Conns    int     `json:"conns"`
	Pipeline int     `json:"pipeline"`
	Rate     float64 `json:"rate,omitempty"` // target requests/s in open-loop mode

	Requests       int64   `json:"requests"`        // replies received to measured requests
	WarmupRequests int64   `json:"warmup_requests"` // replies received during warmup
	DurationSec    float64 `json:"duration_s"`      // from the end of warmup to the last reply
	RequestsPerSec float64 `json:"requests_per_s"`
	Latency        Latency `json:"latency"` // from send (closed loop) or intended send (open loop) to reply
	// SendLag (open loop only) is how late the first request of each batch
	// was written after its intended time: a full pipeline or a slow client.
	// Go's timers wake idle threads with millisecond granularity, so up to
	// about 1 ms of it, and so of Latency, is the client's own.
	SendLag *Latency `json:"send_lag,omitempty"`
	// Unsent (open loop only) counts the requests that fell due but that a
	// full pipeline held back when the run stopped. They are not in
	// Requests; Latency charges each the time it had waited by then.
	Unsent int64 `json:"unsent,omitempty"`

	Errors         int64    `json:"errors"`          // WrongReplies + MissingReplies
	WrongReplies   int64    `json:"wrong_replies"`   // replies that do not answer their request
	MissingReplies int64    `json:"missing_replies"` // requests whose connection failed before the reply
	ErrorExamples  []string `json:"error_examples,omitempty"`

	// Server-side cost, when a PID was given: CPU time (utime+stime, in
	// ticks of ClockTicks Hz) spent over the measured interval, per
	// request, and VmRSS at the end.
	PID             int     `json:"pid,omitempty"`
	ServerCPUSec    float64 `json:"server_cpu_s,omitempty"`
	CPUUsPerRequest float64 `json:"server_cpu_us_per_request,omitempty"`
	ServerRSSBytes  int64   `json:"server_rss_bytes,omitempty"`
	ClockTicks      int     `json:"clock_ticks_hz,omitempty"`

	// The load generator's own CPU time per request over the same interval
	// (when a PID was given): on a machine it shares with the server, what
	// the client spends is taken from the server.
	ClientCPUUsPerRequest float64 `json:"client_cpu_us_per_request,omitempty"`
}

// runner is one run's shared state.
type runner struct {
	opt       Options
	start     time.Time // monotonic base: every timestamp is ns since start
	measureNs int64     // requests stamped at or after this are measured
	baseWall  int64     // client time of seq 0, Unix ns
	interval  float64   // open loop: ns between one connection's requests

	stopCh   chan struct{} // closed when writers must stop
	stopOnce sync.Once
	stopped  atomic.Bool

	hist      *shardedHist
	lag       *shardedHist // open loop: send lag per batch
	measured  atomic.Int64
	warmup    atomic.Int64
	wrong     atomic.Int64
	missing   atomic.Int64
	unsent    atomic.Int64 // open loop: scheduled requests held back at the end
	lastReply atomic.Int64

	exMu     sync.Mutex
	examples []string
}

func (r *runner) now() int64 { return int64(time.Since(r.start)) }

func (r *runner) stop() {
	r.stopOnce.Do(func() { r.stopped.Store(true); close(r.stopCh) })
}

func (r *runner) example(format string, args ...any) {
	r.exMu.Lock()
	if len(r.examples) < maxExamples {
		r.examples = append(r.examples, fmt.Sprintf(format, args...))
	}
	r.exMu.Unlock()
}

// Run runs one load test as opt says and returns what it measured. It
// returns an error when the run could not be done (bad options, the
// server unreachable, ctx cancelled); wrong or missing replies are not
// errors of Run but counted in the Result.
func Run(ctx context.Context, opt Options) (Result, error) {
	res, err := newResult(opt)
	if err != nil {
		return res, err
	}
	conns, err := dialAll(ctx, opt.Addr, opt.Conns, opt.DialTimeout)
	if err != nil {
		return res, err
	}
	defer closeAll(conns)

	r := &runner{
		opt:       opt,
		measureNs: int64(opt.Warmup),
		stopCh:    make(chan struct{}),
		hist:      newShardedHist(opt.Conns),
	}
	if opt.Rate > 0 {
		r.interval = float64(opt.Conns) * 1e9 / opt.Rate
		r.lag = newShardedHist(opt.Conns)
	}
	cpu := &cpuMeter{pid: opt.PID, sampled: make(chan struct{})}
	r.start = time.Now()
	r.baseWall = r.start.UnixNano()
	cpu.begin(opt.Warmup)
	if opt.Requests == 0 {
		t := time.AfterFunc(opt.Warmup+opt.Duration, r.stop)
		defer t.Stop()
	}

	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			r.stop()
			closeAll(conns) // unblock readers waiting on a silent server
		case <-done:
		}
	}()
	progressDone := make(chan struct{})
	if opt.Progress != nil {
		go r.progress(done, progressDone)
	} else {
		close(progressDone)
	}
	r.runConns(conns)
	close(done)
	<-progressDone
	if err := ctx.Err(); err != nil {
		cpu.cancel()
		return res, err
	}
	r.fill(&res)
	return res, cpu.finish(&res)
}

// newResult checks opt, makes room for its connections, and returns the
// Result that describes the run.
func newResult(opt Options) (Result, error) {
	if err := opt.validate(); err != nil {
		return Result{}, err
	}
	if err := raiseNoFile(opt.Conns); err != nil {
		return Result{}, err
	}
	res := Result{
		Addr: opt.Addr, Mix: opt.Mix, Mode: "closed", Conns: opt.Conns,
		Pipeline: opt.Pipeline, PID: opt.PID,
	}
	if opt.Rate > 0 {
		res.Mode, res.Rate = "open", opt.Rate
	}
	if opt.PID > 0 {
		if _, _, err := ProcStats(opt.PID); err != nil {
			return res, err
		}
		res.ClockTicks = ClockTicks
	}
	return res, nil
}

// runConns runs every connection's share of the requests, each on its own
// goroutine, and waits for them.
func (r *runner) runConns(conns []net.Conn) {
	var wg sync.WaitGroup
	per, rem := r.opt.Requests/int64(len(conns)), r.opt.Requests%int64(len(conns))
	for i, c := range conns {
		quota := per
		if int64(i) < rem {
			quota++
		}
		if r.opt.Requests > 0 && quota == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runConn(i, c, quota)
		}()
	}
	wg.Wait()
}

// fill sets what the run measured in res: counts, rate, latency, errors.
func (r *runner) fill(res *Result) {
	h := r.hist.merged()
	res.Requests = r.measured.Load()
	res.WarmupRequests = r.warmup.Load()
	end := r.lastReply.Load()
	if end > r.measureNs {
		res.DurationSec = float64(end-r.measureNs) / 1e9
		res.RequestsPerSec = float64(res.Requests) / res.DurationSec
	}
	res.Latency = latencyOf(h)
	if r.lag != nil {
		l := latencyOf(r.lag.merged())
		res.SendLag = &l
	}
	res.Unsent = r.unsent.Load()
	res.WrongReplies, res.MissingReplies = r.wrong.Load(), r.missing.Load()
	res.Errors = res.WrongReplies + res.MissingReplies
	res.ErrorExamples = r.examples
}

// cpuMeter samples the server's CPU (and the load generator's own) when
// measuring starts and after the last reply. It does nothing without a
// server PID.
type cpuMeter struct {
	pid         int
	start       float64
	clientStart float64
	err         error
	sampled     chan struct{} // closed once start, clientStart and err are set
	timer       *time.Timer
}

// begin samples now, or once warmup has passed.
func (m *cpuMeter) begin(warmup time.Duration) {
	if m.pid <= 0 {
		return
	}
	m.start = math.NaN()
	sample := func() {
		m.start, _, m.err = ProcStats(m.pid)
		m.clientStart, _, _ = ProcStats(os.Getpid())
		close(m.sampled)
	}
	if warmup == 0 {
		sample()
	} else {
		m.timer = time.AfterFunc(warmup, sample)
	}
}

// cancel drops a first sample not yet taken.
func (m *cpuMeter) cancel() {
	if m.timer != nil {
		m.timer.Stop()
	}
}

// finish takes the last sample and sets the CPU and memory figures of res.
func (m *cpuMeter) finish(res *Result) error {
	if m.pid <= 0 {
		return nil
	}
	cpuEnd, rss, err := ProcStats(m.pid)
	if err != nil {
		return err
	}
	clientEnd, _, _ := ProcStats(os.Getpid())
	if m.timer != nil && m.timer.Stop() {
		return errors.New("load: the run ended before warmup did, so no CPU was measured")
	}
	<-m.sampled
	if m.err != nil {
		return m.err
	}
	res.ServerCPUSec = cpuEnd - m.start
	res.ServerRSSBytes = rss
	if res.Requests > 0 {
		res.CPUUsPerRequest = res.ServerCPUSec * 1e6 / float64(res.Requests)
		res.ClientCPUUsPerRequest = (clientEnd - m.clientStart) * 1e6 / float64(res.Requests)
	}
	return nil
}

func (r *runner) progress(done <-chan struct{}, finished chan<- struct{}) {
	defer close(finished)
	t := time.NewTicker(r.opt.ProgressInterval)
	defer t.Stop()
	var prevN int64
	prevT := r.start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			n := r.measured.Load() + r.warmup.Load()
			p := Progress{
				Elapsed:  now.Sub(r.start),
				Warmup:   now.Sub(r.start) < r.opt.Warmup,
				Requests: n,
				Measured: r.measured.Load(),
				Errors:   r.wrong.Load() + r.missing.Load(),
			}
			if dt := now.Sub(prevT).Seconds(); dt > 0 {
				p.PerSecond = float64(n-prevN) / dt
			}
			prevN, prevT = n, now
			r.opt.Progress(p)
		}
	}
}

// conn is one connection's shared state between its writer and reader.
type conn struct {
	r     *runner
	id    int
	nc    net.Conn
	quota int64 // measured requests to send; 0: until stopped

	// tokens holds one entry per request pushed but not yet taken by the
	// reader; its capacity is Pipeline-1 and the reader holds one more
	// while it reads a reply, so at most Pipeline are outstanding.
	tokens chan struct{}
	// stamps[seq%Pipeline] is request seq's send (closed loop) or intended
	// send (open loop) time, written before the request is written and read
	// after its reply.
	stamps []atomic.Int64
	dead   chan struct{} // closed when the reader gives up on the connection
	once   sync.Once
}

func (c *conn) kill() {
	c.once.Do(func() { close(c.dead); c.nc.Close() })
}

func (r *runner) runConn(id int, nc net.Conn, quota int64) {
	c := &conn{
		r: r, id: id, nc: nc, quota: quota,
		tokens: make(chan struct{}, r.opt.Pipeline-1),
		stamps: make([]atomic.Int64, r.opt.Pipeline),
		dead:   make(chan struct{}),
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.read()
	}()
	c.write()
	close(c.tokens)
	<-readerDone
}

// write sends requests until the run stops, the quota is met or the
// connection dies, one write call per batch.
func (c *conn) write() {
	r := c.r
	P := r.opt.Pipeline
	open := r.opt.Rate > 0
	phase := float64(c.id) * r.interval / float64(r.opt.Conns)
	intended := func(seq uint64) int64 { return int64(phase + float64(seq)*r.interval) }
	g := newGen(&r.opt, c.id, r.baseWall)
	buf := make([]byte, 0, 4096)
	var sent int64 // measured requests sent
	var timer *time.Timer
	if open {
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
	}
	full := func() bool { return c.quota > 0 && sent >= c.quota }
	for !r.stopped.Load() && !full() {
		var t int64
		if open {
			t = intended(g.seq)
			if d := t - r.now(); d > 0 {
				timer.Reset(time.Duration(d))
				select {
				case <-timer.C:
				case <-r.stopCh:
					return
				case <-c.dead:
					return
				}
			}
		}
		select {
		case c.tokens <- struct{}{}:
		case <-r.stopCh:
			if open {
				c.chargeUnsent(t)
			}
			return
		case <-c.dead:
			return
		}
		now := r.now()
		if !open {
			t = now
		} else if t >= r.measureNs {
			r.lag.record(c.id, now-t)
		}
		buf = buf[:0]
		for n := 0; ; {
			c.stamps[g.seq%uint64(P)].Store(t)
			buf, _ = g.next(buf)
			if t >= r.measureNs {
				sent++
			}
			if n++; n == P || full() {
				break
			}
			if open {
				if t = intended(g.seq); t > now {
					break
				}
			}
			select {
			case c.tokens <- struct{}{}:
				continue
			default:
			}
			break
		}
		if _, err := c.nc.Write(buf); err != nil {
			// The reader sees the broken connection too and counts what is
			// outstanding as missing.
			return
		}
	}
}

// chargeUnsent accounts, when an open-loop run stops, for the requests the
// schedule called for from t on that a full pipeline kept unsent. Each has
// waited from its intended time until now (a lower bound on the latency it
// would have seen), so they are recorded, the way HdrHistogram corrects for
// coordinated omission, as now-t, now-t-interval, ... down to interval. In a
// run that keeps up with its schedule, nothing is unsent: the writer stops
// while waiting for a future send time.
func (c *conn) chargeUnsent(t int64) {
	r := c.r
	now := r.now()
	if t < r.measureNs || now <= t {
		return
	}
	v, interval := now-t, max(1, int64(r.interval))
	r.hist.recordCorrected(c.id, v, interval)
	r.unsent.Add(max(1, v/interval))
}

// read checks one reply per token until the writer is done and every
// written request is answered, or the connection fails.
func (c *conn) read() {
	r := c.r
	P := uint64(r.opt.Pipeline)
	br := bufio.NewReaderSize(c.nc, readBufSize)
	g := newGen(&r.opt, c.id, r.baseWall)
	var (
		e       expect
		scratch = make([]byte, 0, 256)
		last    int64
		// The first read sets a deadline; later ones refresh it once a
		// quarter of the timeout has passed.
		refresh     = int64(r.opt.ReplyTimeout / 4)
		deadlineSet = -refresh - 1
	)
	defer func() {
		for {
			cur := r.lastReply.Load()
			if last <= cur || r.lastReply.CompareAndSwap(cur, last) {
				return
			}
		}
	}()
	for range c.tokens {
		seq := g.seq
		req, kind := g.next(scratch[:0])
		scratch = req[:0]
		e.set(kind, req)
		for {
			// Refresh the deadline often enough that it never falls due
			// while replies keep coming, but not on every line.
			if now := r.now(); now-deadlineSet > refresh {
				c.nc.SetReadDeadline(time.Now().Add(r.opt.ReplyTimeout))
				deadlineSet = now
			}
			b, err := br.ReadSlice('\n')
			if err != nil {
				c.fail(seq, err)
				return
			}
			line, _, _ := codec.NextLine(b, len(b))
			done, cerr := e.feed(line)
			if cerr != nil {
				r.wrong.Add(1)
				r.example("conn %d request %d: %v", c.id, seq, cerr)
			}
			if done {
				break
			}
		}
		now := r.now()
		t := c.stamps[seq%P].Load()
		if t >= r.measureNs {
			r.hist.record(c.id, now-t)
			r.measured.Add(1)
			last = now
		} else {
			r.warmup.Add(1)
		}
	}
}

// fail gives up on the connection after a read error: the request being
// read and every one still outstanding count as missing.
func (c *conn) fail(seq uint64, err error) {
	c.kill()
	n := int64(1)
	for range c.tokens {
		n++
	}
	if c.r.stopped.Load() && errors.Is(err, net.ErrClosed) {
		// ctx was cancelled and Run closed the connection; Run reports that.
		return
	}
	what := err.Error()
	var ne net.Error
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		what = fmt.Sprintf("reply line longer than %d bytes", readBufSize)
	case errors.As(err, &ne) && ne.Timeout():
		what = fmt.Sprintf("no reply within %v", c.r.opt.ReplyTimeout)
	case errors.Is(err, io.EOF):
		what = "connection closed by the server"
	}
	c.r.missing.Add(n)
	c.r.example("conn %d request %d: %s; %d requests unanswered", c.id, seq, what, n)
}
