package peer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/logq"
)

const (
	// stableAfter is how long a link must stay up before its backoff
	// resets: a neighbour that accepts and drops at once is not redialled
	// (and synced with) in a tight loop.
	stableAfter = 5 * time.Second
	// summaryEvery is how often a link logs the updates it dropped, if any.
	summaryEvery = 10 * time.Second
	// writeTimeout bounds one write to a neighbour that stopped reading.
	writeTimeout = 5 * time.Second
)

type linkState int32

const (
	stateDown linkState = iota
	stateConnecting
	stateUp
)

func (s linkState) String() string {
	switch s {
	case stateUp:
		return "up"
	case stateConnecting:
		return "connecting"
	}
	return "down"
}

// link is the outbound half of the connection with one neighbour: this
// node dials it, proves who it is, reconciles with a digest sync, then
// streams updates from a bounded queue and syncs again every sync interval
// and whenever it had to drop updates. The neighbour's own link to us
// carries the other direction. Flood only copies the line into the link's
// queue (updq.go): the queue holds no reference into the cache.
type link struct {
	ls      *Links
	name    string
	addr    string
	q       *updq         // updates copied in by Flood; any goroutine
	spare   []byte        // the queue buffer taken last; link goroutine only
	scratch []byte        // for comparing with the cache; link goroutine only
	wakeCh  chan struct{} // redial now (the neighbour just linked in)
	syncCh  chan struct{} // sync now (updates were dropped)
	tree    *linkTree     // the spanning-tree push (tree.go)

	up    atomic.Bool
	state atomic.Int32
	since atomic.Int64 // unix nanoseconds of the last state change

	ups, sent, dropped, syncs atomic.Uint64
	reported                  uint64 // dropped as of the last summary; link goroutine only
	refusals                  int    // handshakes failed in a row; link goroutine only

	// ctx ends the link: when the links close, or when a reload removes
	// the neighbour (reload.go).
	ctx    context.Context
	cancel context.CancelFunc
}

func newLink(ls *Links, nb Neighbor) *link {
	l := &link{
		ls: ls, name: nb.Name, addr: nb.Address,
		q:      newUpdq(ls.p.Queue),
		wakeCh: make(chan struct{}, 1),
		syncCh: make(chan struct{}, 1),
		tree:   newLinkTree(),
	}
	l.ctx, l.cancel = context.WithCancel(ls.ctx)
	l.setState(stateDown)
	return l
}

func (l *link) setState(s linkState) {
	l.state.Store(int32(s))
	l.since.Store(l.ls.cfg.Clock().UnixNano())
	l.up.Store(s == stateUp)
}

func (l *link) wantSync() {
	select {
	case l.syncCh <- struct{}{}:
	default:
	}
}

// enqueue queues a copy of line for the neighbour. While the link is down
// it does nothing: the sync when it comes up carries what it missed. When
// the queue is full the oldest update goes (counted) and the link asks for
// a sync, which repairs the loss. Non-blocking; any goroutine; allocates
// nothing once the queue's buffers have grown.
func (l *link) enqueue(line []byte) {
	if !l.up.Load() {
		return
	}
	if l.q.push(line) {
		l.dropped.Add(1)
		l.wantSync()
	}
}

// run keeps the link up until the links close.
func (l *link) run() {
	ctx := l.ctx
	p := l.ls.p
	backoff := p.BackoffMin
	failures := 0
	for ctx.Err() == nil {
		l.setState(stateConnecting)
		conn, err := l.ls.cfg.Dial(ctx, l.addr) // resolves the name again each time
		var upFor time.Duration
		if err == nil {
			if upFor, _ = l.serve(ctx, conn); upFor > 0 {
				failures = 0 // it was reachable: log the next outage
			}
		} else if failures++; failures == 1 {
			l.ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "neighbour unreachable, retrying", Peer: l.name, Remote: l.addr, Err: err})
		}
		l.setState(stateDown)
		if upFor >= stableAfter {
			failures, backoff = 0, p.BackoffMin
			continue // it was up a good while: redial at once
		}
		// Full jitter over [backoff/2, backoff], doubling up to the cap;
		// a neighbour that links in meanwhile cuts the wait short.
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, p.BackoffMax)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		case <-l.wakeCh:
		}
	}
}

// syncMsg is an answer of the neighbour to this link's sync.
type syncMsg struct {
	word    string // "DIGEST" or "HAVE"
	count   uint64 // DIGEST: entries the neighbour holds
	payload []byte
}

// syncRun is a sync in progress.
type syncRun struct {
	bits    uint
	count   uint64  // entries this node held when it started
	d       *digest // its bucket sums, made once the neighbour's differ
	started time.Time
	want    []bool // buckets asked for with WANT
}

// serve runs one connection of the link until it breaks or ctx ends. It
// reports how long the link was up (0 when the handshake failed).
func (l *link) serve(ctx context.Context, conn net.Conn) (time.Duration, error) {
	defer conn.Close()
	// Updates queued for a previous connection are in the cache: the sync
	// below carries them.
	l.q.clear()
	ls := l.ls
	_ = conn.SetDeadline(time.Now().Add(ls.p.DialTimeout))
	if ls.cfg.TLS != nil {
		conn = ls.cfg.TLS.client(conn, l.name)
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriterSize(&deadlineWriter{conn}, 64<<10)
	if err := ls.dialHandshake(r, w, l.name); err != nil {
		lvl := slog.LevelWarn
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrRefused) || errors.Is(err, ErrCertName) {
			lvl = slog.LevelError
		}
		if l.refusals++; l.refusals == 1 { // the first of a run; the link's state tells the rest
			ls.log.Send(logq.Event{Level: lvl, Msg: "link handshake failed", Peer: l.name, Remote: l.addr, Err: err})
		}
		return 0, err
	}
	l.refusals = 0
	_ = conn.SetDeadline(time.Time{})
	start := ls.cfg.Clock()
	l.setState(stateUp)
	l.ups.Add(1)
	ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "link up", Peer: l.name, Remote: conn.RemoteAddr().String()})

	// The neighbour writes on this connection only to answer syncs; a read
	// that fails is how a restart is noticed without waiting for the next
	// update.
	msgs := make(chan syncMsg)
	gone := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	ls.goFunc(func() { gone <- readSyncAnswers(r, msgs, stop, l.treeAnswer) })

	var sy *syncRun
	var err error
	// A sync asked for because updates were dropped starts once the queue
	// has drained: one started while it still overflows would be stale at
	// once.
	wanted := false
	startSync := func() {
		sy, err = ls.startSync(w)
		wanted = false
	}
	err = l.offerTree(w)
	if err == nil {
		startSync()
	}
	tick := time.NewTicker(ls.p.SyncInterval)
	defer tick.Stop()
	summary := time.NewTicker(summaryEvery)
	defer summary.Stop()
	for err == nil {
		if wanted && sy == nil && l.q.len() == 0 {
			startSync()
			continue
		}
		select {
		case err = <-gone:
			if err == nil {
				err = io.EOF
			}
		case <-ctx.Done():
			// Shutting down: flush what is queued, then close.
			err = l.sendQueued(w)
			if err == nil {
				err = w.Flush()
			}
			ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "link closed", Peer: l.name})
			return ls.cfg.Clock().Sub(start), nil
		case <-l.q.ready:
			// Everything waiting goes out in as few writes as it takes.
			err = l.sendQueued(w)
			if err == nil {
				err = w.Flush()
			}
		case <-l.tree.ready:
			err = l.sendAnnouncements(w)
		case <-tick.C:
			if sy == nil || ls.cfg.Clock().Sub(sy.started) > ls.p.SyncInterval {
				startSync() // also retires a sync the neighbour never answered
			}
		case <-l.syncCh:
			wanted = true
		case m := <-msgs:
			if sy == nil {
				continue
			}
			var done bool
			done, err = l.onSyncAnswer(w, sy, m)
			if done {
				l.syncs.Add(1)
				sy = nil
			}
		case <-summary.C:
			if d := l.dropped.Load(); d != l.reported {
				ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "updates dropped for a slow neighbour (a sync repairs them)", Peer: l.name, Count: d - l.reported, Total: d})
				l.reported = d
			}
		}
	}
	ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "link down", Peer: l.name, Err: err})
	return ls.cfg.Clock().Sub(start), err
}

// startSync sends SYNC with this node's running count and root: when the
// neighbour's agree, that is the whole sync.
func (ls *Links) startSync(w *bufio.Writer) (*syncRun, error) {
	count, root := ls.root()
	sy := &syncRun{bits: bucketBits(int(min(count, 1<<40))), count: count, started: ls.cfg.Clock()}
	return sy, writeLine(w, "SYNC", strconv.Itoa(int(sy.bits)), strconv.FormatUint(count, 10), strconv.FormatUint(root, 16))
}

// root is this node's entry count and root: the node's running digest, or,
// before Connect gave the links a node, a walk of the cache.
func (ls *Links) root() (count, sum uint64) {
	if ls.node != nil {
		return ls.node.Digest()
	}
	d := makeDigest(ls.cfg.Cache, minBucketBits)
	return d.count, d.root
}

// onSyncAnswer takes the neighbour's DIGEST or HAVE and does the next step
// of the sync; done reports that the sync is over.
// push writes every line of the cache that send accepts to w, counts them
// as sent and flushes. It returns how many it wrote.
func (l *link) push(w *bufio.Writer, send func(line []byte) bool) (n int, err error) {
	l.ls.cfg.Cache.Range(func(_ []byte, _ codec.Stamp, line []byte) bool {
		if !send(line) {
			return true
		}
		err = writeAT(w, line)
		n++
		return err == nil
	})
	l.sent.Add(uint64(n))
	if err == nil {
		err = w.Flush()
	}
	return n, err
}

func (l *link) onSyncAnswer(w *bufio.Writer, sy *syncRun, m syncMsg) (done bool, err error) {
	switch m.word {
	case "DIGEST":
		switch {
		case m.count == 0 && sy.count > 0:
			// The neighbour is empty (it restarted): send everything.
			var n int
			n, err = l.push(w, func([]byte) bool { return true })
			l.ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "sync: neighbour empty, pushed the cache", Peer: l.name, Pushed: n})
			return true, err
		case len(m.payload) == 0:
			return true, nil // it has all we have
		case len(m.payload) != 8<<sy.bits:
			return true, nil // the answer to an abandoned sync: the next one repairs
		}
		sy.d = l.ls.walkDigest(sy.bits)
		diff := sy.d.differing(u64s(m.payload))
		if len(diff) == 0 {
			return true, nil
		}
		sy.want = bucketSet(sy.d.bits, diff)
		return false, writeBlob(w, "WANT", nil, appendU32s(make([]byte, 0, 4*len(diff)), diff))
	case "HAVE":
		if sy.want == nil {
			return true, nil // the answer to an abandoned sync
		}
		has := make(map[uint64]struct{}, len(m.payload)/8)
		for _, h := range u64s(m.payload) {
			has[h] = struct{}{}
		}
		b := sy.bits
		var n int
		n, err = l.push(w, func(line []byte) bool {
			h := lineHash(line)
			if !sy.want[h>>(64-b)] {
				return false
			}
			_, had := has[h]
			return !had
		})
		if n > 0 {
			l.ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "sync: sent what the neighbour lacked", Peer: l.name, Pushed: n})
		}
		return true, err
	}
	return true, errBadSync
}

// readSyncAnswers reads the neighbour's DIGEST and HAVE messages and hands
// them to the link until the connection fails or stop is closed.
func readSyncAnswers(r *bufio.Reader, msgs chan<- syncMsg, stop <-chan struct{}, ctl func(line []byte)) error {
	for {
		line, err := readLine(r)
		if err != nil {
			return err
		}
		f := bytes.Fields(line)
		var m syncMsg
		switch {
		case len(f) == 3 && string(f[0]) == "DIGEST":
			if m.count, err = strconv.ParseUint(string(f[1]), 10, 64); err != nil {
				return errBadSync
			}
			m.word = "DIGEST"
			m.payload, err = readBlob(r, f[2], 8<<maxBucketBits, 8)
		case len(f) == 2 && string(f[0]) == "HAVE":
			m.word = "HAVE"
			m.payload, err = readBlob(r, f[1], maxHave, 8)
		default:
			if ctl != nil {
				ctl(line) // a tree line (tree.go); anything else is ignored
			}
			continue
		}
		if err != nil {
			return err
		}
		select {
		case msgs <- m:
		case <-stop:
			return nil
		}
	}
}

// sendQueued sends every queued update. Link goroutine only.
func (l *link) sendQueued(w *bufio.Writer) error {
	lines, full := l.q.take(l.spare)
	l.spare = full // handed back on the next take, after these lines are sent
	cache := l.ls.cfg.Cache
	warmed := 0 // bytes of lines whose lookups are warmed
	for len(lines) > 0 {
		if warmed <= 0 {
			// send looks each line up in the cache: touch the memory of
			// the next lookups together (herd.Cache.Warm).
			warmed = cache.Warm(lines)
		}
		i := bytes.IndexByte(lines, '\n')
		if err := l.send(w, lines[:i]); err != nil {
			return err
		}
		lines = lines[i+1:]
		warmed -= i + 1
	}
	return nil
}

// send writes a queued update unless a newer one for the same client has
// replaced it in the cache since it was queued: the newer one is queued too
// (or came from this neighbour), so the older is dropped, as memberlist's
// Broadcast.Invalidates does. The queue holds copies, so the test is on
// bytes: the line is sent only while the cache still holds exactly it
// (read into a reused scratch buffer, without allocating). Link goroutine
// only.
func (l *link) send(w *bufio.Writer, line []byte) error {
	e := herd.Entry{Line: line}
	held, ok := l.ls.cfg.Cache.AppendLine(l.scratch[:0], e.ClientID())
	l.scratch = held
	if !ok || !bytes.Equal(held, line) {
		return nil
	}
	l.sent.Add(1)
	return writeAT(w, line)
}

// writeAT writes an AT line and its "\n".
func writeAT(w *bufio.Writer, line []byte) error {
	if _, err := w.Write(line); err != nil {
		return err
	}
	return w.WriteByte('\n')
}
