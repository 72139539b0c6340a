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
	"github.com/herdnet/herd/internal/logq"
)

const (
	// stableAfter is how long a link must stay up before its backoff
	// resets: a neighbour that accepts and drops at once is not redialled
	// (and synced with) in a tight loop.
	stableAfter = 5 * time.Second
)

// link is the outbound half of the connection with one neighbour: this
// node dials it, proves who it is, reconciles with a digest sync, then
// sends the newest line of every client in its pending set (pending.go)
// and syncs again every sync interval. The neighbour's own link to us
// carries the other direction. Flood only adds the client id to the set:
// the link reads the line from the cache when it writes.
type link struct {
	ls      *Links
	name    string
	addr    string
	q       *pending      // clients with an update to send; any goroutine
	spare   []byte        // the ids taken last; link goroutine only
	scratch []byte        // a line read from the cache; link goroutine only
	wakeCh  chan struct{} // redial now (the neighbour just linked in)
	syncCh  chan struct{} // sync now (the neighbour just linked in)
	tree    *linkTree     // the spanning-tree push (tree.go)

	up    atomic.Bool
	state atomic.Int32
	since atomic.Int64 // unix nanoseconds of the last state change

	// sending counts the ids of the batch being written not written yet,
	// sendingFirst is when the oldest of them was queued (0: none).
	sending, sendingFirst atomic.Int64

	ups, sent, syncs atomic.Uint64
	refusals         int // handshakes failed in a row; link goroutine only

	// ctx ends the link: when the links close, or when a reload removes
	// the neighbour (reload.go).
	ctx    context.Context
	cancel context.CancelFunc
}

func newLink(ls *Links, nb Neighbor) *link {
	l := &link{
		ls: ls, name: nb.Name, addr: nb.Address,
		q:      newPending(ls.seed),
		wakeCh: make(chan struct{}, 1),
		syncCh: make(chan struct{}, 1),
		tree:   newLinkTree(ls.seed),
	}
	l.ctx, l.cancel = context.WithCancel(ls.ctx)
	l.setState(StateDown)
	return l
}

func (l *link) setState(s LinkState) {
	l.state.Store(int32(s))
	l.since.Store(l.ls.cfg.Clock().UnixNano())
	l.up.Store(s == StateUp)
}

func (l *link) wantSync() {
	select {
	case l.syncCh <- struct{}{}:
	default:
	}
}

// enqueue adds the client id to the link's pending set. While the link is
// down it does nothing: the sync when it comes up carries what it missed.
// Non-blocking; any goroutine; allocates nothing once the set has grown.
func (l *link) enqueue(id []byte, h uint64, now func() time.Time) {
	if !l.up.Load() {
		return
	}
	l.q.push(id, h, now)
}

// run keeps the link up until the links close.
func (l *link) run() {
	ctx := l.ctx
	p := l.ls.p
	backoff := p.BackoffMin
	failures := 0
	for ctx.Err() == nil {
		l.setState(StateConnecting)
		conn, err := l.ls.cfg.Dial(ctx, l.addr) // resolves the name again each time
		var upFor time.Duration
		if err == nil {
			if upFor, _ = l.serve(ctx, conn); upFor > 0 {
				failures = 0 // it was reachable: log the next outage
			}
		} else if failures++; failures == 1 {
			l.ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "neighbour unreachable, retrying", Peer: l.name, Remote: l.addr, Err: err})
		}
		l.setState(StateDown)
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

// abortOnWake gives up the handshake on conn when the neighbour links in
// meanwhile: it just (re)started, so an attempt already under way most
// likely reached its old self, which will never answer, and would hold the
// link down for the whole dial timeout. The wake is posted again, so the
// link redials at once. The returned func ends the watch and returns once
// the watcher can no longer touch conn, reporting whether it gave the
// handshake up. Link goroutine only.
func (l *link) abortOnWake(conn net.Conn) (stop func() (woken bool)) {
	done := make(chan struct{})
	exited := make(chan bool, 1)
	go func() {
		select {
		case <-l.wakeCh:
			_ = conn.SetDeadline(time.Now()) // the handshake's reads and writes fail now
			select {
			case l.wakeCh <- struct{}{}:
			default:
			}
			exited <- true
		case <-done:
			exited <- false
		}
	}()
	return func() bool {
		close(done)
		return <-exited
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
	defer context.AfterFunc(l.ls.abort, func() { conn.Close() })()
	// Clients pending for a previous connection: the sync below carries
	// their lines.
	l.q.clear()
	ls := l.ls
	_ = conn.SetDeadline(time.Now().Add(ls.p.DialTimeout))
	if ls.cfg.TLS != nil {
		conn = ls.cfg.TLS.client(conn, l.name)
	}
	lr := &liveReader{c: conn, timeout: ls.p.Timeout}
	r := bufio.NewReaderSize(lr, 64<<10)
	w := bufio.NewWriterSize(&deadlineWriter{conn, ls.p.Timeout}, 64<<10)
	stopWatch := l.abortOnWake(conn)
	err := ls.dialHandshake(r, w, l.name)
	if woken := stopWatch(); woken && err != nil {
		return 0, err // given up for a fresh dial, not a failure to report
	}
	if err != nil {
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
	l.setState(StateUp)
	l.ups.Add(1)
	ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "link up", Peer: l.name, Remote: conn.RemoteAddr().String()})

	// The neighbour writes on this connection to answer syncs and to ping;
	// a read that fails is how a restart is noticed without waiting for the
	// next update, and a read that times out (liveness.go) how a partition
	// is.
	msgs := make(chan syncMsg)
	gone := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	ls.goFunc(func() { gone <- readSyncAnswers(r, msgs, stop, func() { lr.armed.Store(true) }, l.treeAnswer) })

	var sy *syncRun
	err = nil
	startSync := func() { sy, err = ls.startSync(w) }
	// The tree offer goes first: the neighbour's answer then arrives
	// before any sync answer.
	if err = l.offerTree(w); err == nil {
		startSync()
	}
	tick := time.NewTicker(ls.p.SyncInterval)
	defer tick.Stop()
	ping := time.NewTicker(ls.p.Heartbeat)
	defer ping.Stop()
	for err == nil {
		select {
		case <-ping.C:
			err = writeLine(w, pingLine)
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
		case <-l.tree.announce.ready:
			err = l.sendAnnouncements(w)
		case <-tick.C:
			if sy == nil || ls.cfg.Clock().Sub(sy.started) > ls.p.SyncInterval {
				startSync() // also retires a sync the neighbour never answered
			}
		case <-l.syncCh:
			if sy == nil {
				startSync()
			}
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
		}
	}
	msg := "link down"
	if silent(err) {
		msg = "link down: the neighbour was silent for peers.timeout"
	}
	ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: msg, Peer: l.name, Err: err})
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
// before Start gave the links a node, a walk of the cache.
func (ls *Links) root() (count, sum uint64) {
	if ls.node != nil {
		return ls.node.Digest()
	}
	d := makeDigest(ls.cfg.Cache, minBucketBits)
	return d.count, d.root
}

// push writes every line of the buckets marked in want (every line of the
// cache when want is nil) that send accepts to w, counts them as sent and
// flushes. It returns how many it wrote.
func (l *link) push(w *bufio.Writer, b uint, want []bool, send func(line []byte) bool) (n int, err error) {
	visit := func(line []byte) bool {
		if !send(line) {
			return true
		}
		err = writeAT(w, line)
		n++
		return err == nil
	}
	if want == nil {
		l.ls.cfg.Cache.Range(func(_ []byte, _ codec.Stamp, line []byte) bool { return visit(line) })
	} else {
		l.ls.rangeBuckets(b, want, visit)
	}
	l.sent.Add(uint64(n))
	if err == nil {
		err = w.Flush()
	}
	return n, err
}

// onSyncAnswer takes the neighbour's DIGEST or HAVE and does the next step
// of the sync; done reports that the sync is over.
func (l *link) onSyncAnswer(w *bufio.Writer, sy *syncRun, m syncMsg) (done bool, err error) {
	switch m.word {
	case "DIGEST":
		switch {
		case m.count == 0 && sy.count > 0:
			// The neighbour is empty (it restarted): send everything.
			var n int
			n, err = l.push(w, 0, nil, func([]byte) bool { return true })
			l.ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "sync: neighbour empty, pushed the cache", Peer: l.name, Pushed: n})
			return true, err
		case len(m.payload) == 0:
			return true, nil // it has all we have
		case len(m.payload) != 8<<sy.bits:
			return true, nil // the answer to an abandoned sync: the next one repairs
		}
		sy.d = l.ls.digestOf(sy.bits)
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
		n, err = l.push(w, b, sy.want, func(line []byte) bool {
			_, had := has[lineHash(line)]
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
// them to the link, calls ping on each PING and ctl on any other line (the
// tree's, tree.go; nil: ignored), until the connection fails or stop is
// closed.
func readSyncAnswers(r *bufio.Reader, msgs chan<- syncMsg, stop <-chan struct{}, ping func(), ctl func(line []byte)) error {
	for {
		line, err := readLine(r)
		if err != nil {
			return err
		}
		var f [maxFields][]byte
		n := fields(line, &f)
		var m syncMsg
		switch {
		case n == 3 && string(f[0]) == "DIGEST":
			if m.count, err = strconv.ParseUint(string(f[1]), 10, 64); err != nil {
				return errBadSync
			}
			m.word = "DIGEST"
			m.payload, err = readBlob(r, f[2], 8<<maxBucketBits, 8)
		case n == 2 && string(f[0]) == "HAVE":
			m.word = "HAVE"
			m.payload, err = readBlob(r, f[1], maxHave, 8)
		case string(line) == pingLine:
			ping()
			continue
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

// sendQueued writes the newest line of every pending client. Link
// goroutine only.
func (l *link) sendQueued(w *bufio.Writer) error {
	ids, first := l.q.take(l.spare)
	l.spare = ids // handed back on the next take, after these are sent
	if len(ids) == 0 {
		return nil
	}
	l.sendingFirst.Store(first)
	defer l.sendingFirst.Store(0)
	left := int64(bytes.Count(ids, []byte{'\n'})) // removed ids not counted
	l.sending.Store(left)
	defer l.sending.Store(0)
	cache := l.ls.cfg.Cache
	warmed := 0 // bytes of ids whose lookups are warmed
	var sent uint64
	for len(ids) > 0 {
		if warmed <= 0 {
			// Touch the memory of the next lookups together.
			warmed = cache.WarmIDs(ids)
		}
		id, rest, removed := nextID(ids)
		warmed -= len(ids) - len(rest)
		ids = rest
		if removed {
			continue
		}
		line, ok := cache.AppendLine(l.scratch[:0], id)
		l.scratch = line
		if ok {
			line = append(line, '\n')
			l.scratch = line
			if _, err := w.Write(line); err != nil {
				l.sent.Add(sent)
				return err
			}
			sent++
		}
		if left--; left&255 == 0 {
			l.sending.Store(left)
		}
	}
	l.sent.Add(sent)
	return nil
}

// writeAT writes an AT line and its "\n".
func writeAT(w *bufio.Writer, line []byte) error {
	if _, err := w.Write(line); err != nil {
		return err
	}
	return w.WriteByte('\n')
}
