package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/places"
)

// startLimited runs one node (Holiday) with limits and, when p is not nil,
// places backend p with maxInFlight workers.
func startLimited(t *testing.T, limits engine.Limits, p places.Provider, maxInFlight int) *node.Node {
	t.Helper()
	cfg := testConfig(t)
	cfg.Limits.Limits = limits.WithDefaults()
	setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		o, l, err := plainSetup(nc)
		o.Places, o.PlacesTimeout, o.MaxInFlight = p, time.Minute, maxInFlight
		return o, l, err
	}
	h, err := node.StartHerd(cfg, []string{"Holiday"}, node.Options{Setup: setup, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	return h.Nodes[0]
}

// probe is a client that must keep getting correct replies while a test
// attacks the node; each check reports a new location and expects it back.
type probe struct {
	c *client
	n int
}

func newProbe(t *testing.T, addr string) *probe { return &probe{c: testclient.Dial(t, addr)} }

func (p *probe) check(t *testing.T) {
	t.Helper()
	p.n++
	line := fmt.Sprintf("IAMAT probe +1.0+1.0 %d", 1000+p.n)
	if got := p.c.Ask(line); !strings.HasPrefix(got, "AT Holiday ") || !strings.HasSuffix(got, " probe +1.0+1.0 "+fmt.Sprint(1000+p.n)+"\n") {
		t.Fatalf("probe: %q answered %q", line, got)
	}
}

// closedByNode reports whether the node closed c within d: EOF or a reset
// (a node closing with unread input resets), never a timeout.
func closedByNode(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil || errors.Is(err, syscall.ECONNRESET)
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	const maxConns = 20
	m := startLimited(t, engine.Limits{MaxConns: maxConns}, nil, 0)
	addr := m.Addr()
	pr := newProbe(t, addr) // one of the 20
	pr.check(t)
	var held, refused []net.Conn
	for range 2 * maxConns {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write([]byte("IAMAT x +1.0+1.0 1\n"))
		line, err := bufio.NewReader(c).ReadString('\n')
		switch {
		case err == nil && strings.HasPrefix(line, "AT Holiday "):
			held = append(held, c)
		case err != nil:
			refused = append(refused, c)
		default:
			t.Fatalf("unexpected answer %q", line)
		}
		pr.check(t)
	}
	if len(held) != maxConns-1 || len(refused) != maxConns+1 {
		t.Fatalf("%d held, %d refused; want %d and %d", len(held), len(refused), maxConns-1, maxConns+1)
	}
	// A neighbour's link is never refused: it does not count.
	peer := testclient.Dial(t, addr)
	if got := peer.Ask("PEER Ball"); got != "PEER Holiday\n" {
		t.Fatalf("a neighbour over the cap got %q", got)
	}
	// Clients that leave make room again.
	for _, c := range held[:5] {
		c.Close()
	}
	testclient.Eventually(t, "a slot to free up", func() bool {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.Write([]byte("IAMAT y +1.0+1.0 1\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(line, "AT Holiday ")
	})
	pr.check(t)
}

// TestClientClaimingPeerStaysCounted: a client over the cap that sends a
// PEER handshake gets in (it may be a neighbour), but only into a few peer
// slots; and once over the cap, a client that sends anything else is
// closed without an answer.
func TestOverCapConnectionMustBePeer(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{MaxConns: 1}, nil, 0)
	pr := newProbe(t, m.Addr())
	pr.check(t) // the probe holds the one slot
	c := testclient.Dial(t, m.Addr())
	c.Send("IAMAT x +1.0+1.0 1\n")
	if !closedByNode(c.Conn, 10*time.Second) {
		t.Fatal("a client over the cap was not closed")
	}
	// Silent connections over the cap are closed after a second.
	d := testclient.Dial(t, m.Addr())
	if !closedByNode(d.Conn, 10*time.Second) {
		t.Fatal("a silent connection over the cap stayed")
	}
	pr.check(t)
}

func TestIdleAndSlowLineTimeouts(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{IdleTimeout: time.Second, LineTimeout: 300 * time.Millisecond}, nil, 0)
	addr := m.Addr()
	idle := testclient.Dial(t, addr)
	peer := testclient.Dial(t, addr)
	if got := peer.Ask("PEER Ball"); got != "PEER Holiday\n" {
		t.Fatalf("handshake: %q", got)
	}
	// Slowloris: a line that never ends, one byte at a time.
	slow := testclient.Dial(t, addr)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := slow.Conn.Write([]byte{"IAMAT slow +1.0+1.0 1"[i%21]}); err != nil {
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	// The probe sends a line every 100 ms: never idle.
	pr := newProbe(t, addr)
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		pr.check(t)
		time.Sleep(100 * time.Millisecond)
	}
	for name, c := range map[string]*client{"idle": idle, "slowloris": slow} {
		if !closedByNode(c.Conn, 5*time.Second) {
			t.Errorf("%s connection not closed", name)
		}
	}
	// Peer links are exempt from idle_timeout (the node's heartbeats, PING
	// lines, may be waiting to be read).
	_ = peer.Conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	for {
		n, err := peer.Conn.Read(make([]byte, 64))
		if err != nil && (errors.Is(err, syscall.EAGAIN) || isTimeout(err)) {
			break
		}
		if err != nil || n == 0 {
			t.Fatalf("the idle neighbour's link was closed: %v", err)
		}
	}
	pr.check(t)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dialTiny dials addr with a 4 KiB receive buffer, so that the node's
// replies fill the socket quickly. The connection is closed at cleanup.
func dialTiny(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// nonReader dials addr with a tiny receive buffer, sends n IAMATs and never
// reads a reply.
func nonReader(t *testing.T, addr string, n int) net.Conn {
	t.Helper()
	c := dialTiny(t, addr)
	req := []byte(strings.Repeat("IAMAT nonreader-with-a-long-name +34.068930-118.445127 1479413884.392014450\n", n))
	go func() { _, _ = c.Write(req) }()
	return c
}

func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{WriteTimeout: 300 * time.Millisecond, MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20}, nil, 0)
	s := m.Server.(*engine.Server)
	pr := newProbe(t, m.Addr())
	pr.check(t)
	nonReader(t, m.Addr(), 50_000) // ~5 MB of replies, never read
	testclient.Eventually(t, "the node to owe the non-reader", func() bool { return s.Owed() > 0 })
	start := time.Now()
	testclient.Eventually(t, "the non-reader to be closed", func() bool { return s.Clients() == 1 })
	t.Logf("closed %v after the node began to owe it", time.Since(start))
	pr.check(t)
}

// TestMaxOutputTotal: ten non-readers owe far more than the node-wide bound:
// the ticker closes the biggest debtors until what is owed fits. Both when
// they stay under max_outbound and when they pass it (then they are being
// drained, and still count).
func TestMaxOutputTotal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		maxOutbound int
		total       int64
	}{
		{"under-max-outbound", 16 << 20, 8 << 20},
		{"draining-past-max-outbound", 1 << 20, 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			maxOutputTotal(t, tc.maxOutbound, tc.total)
		})
	}
}

func maxOutputTotal(t *testing.T, maxOutbound int, total int64) {
	const perConn = 8 << 20
	m := startLimited(t, engine.Limits{MaxOutbound: maxOutbound, MaxOutputTotal: int(total), WriteTimeout: time.Hour}, nil, 0)
	pr := newProbe(t, m.Addr())
	// Ten non-readers, each owed about 8 MiB (less what the kernel's
	// buffers hold): far more than the node-wide bound.
	pr.check(t)
	var cs []net.Conn
	for range 10 {
		cs = append(cs, nonReader(t, m.Addr(), perConn/80))
	}
	// Owe, without reading, while the ticker sheds the largest debtors:
	// at least half of them go.
	s := m.Server.(*engine.Server)
	testclient.Eventually(t, "the node to close most non-readers", func() bool { return s.Clients() <= 1+int64(len(cs))/2 })
	pr.check(t)
	// Between two ticks what is owed may pass the bound; the next tick
	// brings it back under.
	testclient.Eventually(t, "what is owed to fit the bound", func() bool { return s.Owed() <= total })
	t.Logf("%d of %d non-readers left, %d bytes owed", s.Clients()-1, len(cs), s.Owed())
}

// gatedPlaces blocks every call until release is closed; started gets a
// value when a call starts.
type gatedPlaces struct {
	started chan struct{}
	release chan struct{}
}

func newGated() *gatedPlaces {
	return &gatedPlaces{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (*gatedPlaces) Name() string { return "gated" }
func (p *gatedPlaces) Nearby(ctx context.Context, _ places.Query, dst []byte) ([]byte, error) {
	p.started <- struct{}{}
	select {
	case <-p.release:
		return append(dst, "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}\n"...), nil
	case <-ctx.Done():
		return dst, ctx.Err()
	}
}

// TestWhatsatOverloadRepliesWithoutMoreInput: with every worker busy and
// the queue full, a WHATSAT is answered OVER_QUERY_LIMIT at once, and the
// reply reaches its client without the client sending anything more; the
// overloaded replies keep request order with the rest.
func TestWhatsatOverloadRepliesWithoutMoreInput(t *testing.T) {
	t.Parallel()
	p := newGated()
	m := startLimited(t, engine.Limits{}, p, 1) // one worker, a queue of four
	busy := testclient.Dial(t, m.Addr())
	busy.Ask("IAMAT kiwi +34.068930-118.445127 1")
	busy.Send("WHATSAT kiwi 10 5\n")
	<-p.started // the one worker is busy
	busy.Send(strings.Repeat("WHATSAT kiwi 10 5\n", 4))
	s := m.Server.(*engine.Server)
	testclient.Eventually(t, "four WHATSATs to wait for the worker", func() bool { return engine.QueuedWhatsats(s) == 4 })
	c := testclient.Dial(t, m.Addr())
	c.Send(strings.Repeat("WHATSAT kiwi 50 20\n", 30) + "IAMAT last +1.0+1.0 2\n")
	_ = c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 30 {
		at, body := readWhatsat(c)
		if !strings.HasPrefix(at, "AT Holiday ") || !strings.Contains(body, "OVER_QUERY_LIMIT") {
			t.Fatalf("reply %d: %q %q", i, at, body)
		}
	}
	if l := c.Line(); !strings.Contains(l, " last +1.0+1.0 2") {
		t.Fatalf("the IAMAT after the WHATSATs: %q", l)
	}
	close(p.release)
	for i := range 5 {
		if _, body := readWhatsat(busy); !strings.Contains(body, "ZERO_RESULTS") {
			t.Fatalf("busy reply %d: %q", i, body)
		}
	}
}

// TestStopDeliversRunningWhatsat: a graceful stop waits for a WHATSAT that
// is running, delivers its reply whole, then closes with a FIN, not a reset.
func TestStopDeliversRunningWhatsat(t *testing.T) {
	t.Parallel()
	p := newGated()
	cfg := testConfig(t)
	setup := func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		o, l, err := plainSetup(nc)
		o.Places, o.PlacesTimeout, o.MaxInFlight = p, time.Minute, 2
		return o, l, err
	}
	h, err := node.StartHerd(cfg, []string{"Holiday"}, node.Options{Setup: setup, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := testclient.Dial(t, h.Nodes[0].Addr())
	at := c.Ask("IAMAT kiwi +34.068930-118.445127 1")
	c.Send("WHATSAT kiwi 10 5\nIAMAT other +1.0+1.0 2\n")
	<-p.started
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- h.Stop(ctx)
	}()
	// Lines sent while draining are not read; the WHATSAT still completes.
	time.AfterFunc(100*time.Millisecond, func() { close(p.release) })
	gotAT, body := readWhatsat(c)
	if gotAT != at || !strings.Contains(body, "ZERO_RESULTS") {
		t.Fatalf("WHATSAT during the drain: %q %q", gotAT, body)
	}
	if l := c.Line(); !strings.Contains(l, " other +1.0+1.0 2") {
		t.Fatalf("reply after the WHATSAT: %q", l)
	}
	if rest, err := io.ReadAll(c.R); err != nil || len(rest) != 0 {
		t.Fatalf("after the replies: %q, %v (want a clean EOF)", rest, err)
	}
	c.Conn.Close()
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// TestStopUnderPipelinedLoad: clients pipelining IAMATs while the node
// stops get a reply to every line the node answered, none torn, and a
// clean EOF; a line stored (it shows in the node's cache) always had its
// reply delivered.
func TestStopUnderPipelinedLoad(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	h, err := node.StartHerd(cfg, []string{"Holiday"}, node.Options{Setup: plainSetup, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	node := h.Nodes[0].Node
	const clients = 8
	results := make([]pipeResult, clients)
	var wg, first sync.WaitGroup
	for i := range clients {
		c := testclient.Dial(t, h.Nodes[0].Addr())
		first.Add(1)
		wg.Go(func() { results[i] = pipeline(c.Conn, fmt.Sprintf("pipe%d", i), first.Done) })
	}
	first.Wait() // every client is served
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	wg.Wait()
	total := 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("client %d: %v", i, r.err)
		}
		total += r.replies
		e := node.Lookup(fmt.Appendf(nil, "pipe%d", i))
		if e == nil {
			continue
		}
		if held := e.Stamp.Sec; held > int64(r.replies) {
			t.Errorf("client %d: the node stored line %d but the client got %d replies", i, held, r.replies)
		}
	}
	t.Logf("%d replies delivered to %d clients during the stop", total, clients)
}

type pipeResult struct {
	replies int
	err     error
}

// pipeline sends IAMATs for id with times 1, 2, 3... as fast as the node
// takes them, and reads the replies until EOF, checking each one.
// firstReply is called once, at the first reply.
func pipeline(c net.Conn, id string, firstReply func()) pipeResult {
	once := sync.OnceFunc(firstReply)
	defer once() // even when no reply comes
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		var b []byte
		for k := 1; ; k++ {
			b = fmt.Appendf(b[:0], "IAMAT %s +1.0+1.0 %d\n", id, k)
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}()
	r := bufio.NewReader(c)
	var res pipeResult
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				res.err = fmt.Errorf("after %d replies: %w", res.replies, err)
			} else if l != "" {
				res.err = fmt.Errorf("torn last line %q", l)
			}
			return res
		}
		want := fmt.Sprintf(" %s +1.0+1.0 %d\n", id, res.replies+1)
		if !strings.HasPrefix(l, "AT Holiday ") || !strings.HasSuffix(l, want) {
			res.err = fmt.Errorf("reply %d is %q, want ...%q", res.replies+1, l, want)
			return res
		}
		res.replies++
		if res.replies == 1 {
			once()
		}
	}
}

// TestReactorStopReported: if the reactor stops on its own (here: its
// listening socket is shut down under it, so accept fails), Done is closed
// and Err says why, so the binary exits rather than idling without a
// listener.
func TestReactorStopReported(t *testing.T) {
	t.Parallel()
	node := herd.NewNode(herd.NodeOptions{Name: "Holiday"})
	s := engine.New(node, engine.Config{Listen: "127.0.0.1:0", Loops: 1})
	breakListener := engine.BreakableForTest(s)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	if err := breakListener(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the reactor stopped")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "reactor stopped") {
		t.Fatalf("Err = %v", err)
	}
}

func TestFarFutureIAMATRefused(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{}, nil, 0)
	c := testclient.Dial(t, m.Addr())
	for _, l := range []string{"IAMAT kiwi +1.0+1.0 999999999999999999.0", fmt.Sprintf("IAMAT kiwi +1.0+1.0 %d", time.Now().Add(25*time.Hour).Unix())} {
		if got := c.Ask(l); got != "? "+l+"\n" {
			t.Fatalf("%q: %q", l, got)
		}
	}
	now := time.Now().Unix()
	if got := c.Ask(fmt.Sprintf("IAMAT kiwi +1.0+1.0 %d", now)); !strings.HasPrefix(got, "AT Holiday ") {
		t.Fatalf("a current IAMAT after the refused ones: %q", got)
	}
}

// syncBuf is a log sink safe for the log writer and the test.
type syncBuf = testclient.Buffer

// TestInfoLogSummarisesRefusals: at info, per-connection events are not
// logged; refusals and rejected lines show up once per interval as counts.
func TestInfoLogSummarisesRefusals(t *testing.T) {
	t.Parallel()
	var buf syncBuf
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	node := herd.NewNode(herd.NodeOptions{Name: "Holiday"})
	s := engine.New(node, engine.Config{Listen: "127.0.0.1:0", Loops: 1, Logger: logger, SummaryInterval: 100 * time.Millisecond,
		Limits: engine.Limits{MaxConns: 1}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, s.Stop)
	pr := newProbe(t, s.Addr())
	pr.check(t)
	pr.c.Ask("LLL")
	for range 3 {
		c := testclient.Dial(t, s.Addr())
		c.Send("IAMAT x +1.0+1.0 1\n")
		closedByNode(c.Conn, 5*time.Second)
	}
	// The counts may be spread over several intervals: add them up.
	sum := func(key string) (n float64) {
		for _, l := range strings.Split(buf.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "summary of refusals and drops" {
				v, _ := rec[key].(float64)
				n += v
			}
		}
		return n
	}
	testclient.Eventually(t, "a summary", func() bool { return sum("refused_conns") == 3 && sum("rejected_lines") == 1 })
	if l := buf.String(); strings.Contains(l, "client connected") || strings.Contains(l, `"msg":"recv"`) {
		t.Fatalf("per-connection or per-line events at info:\n%s", l)
	}
}

// TestStopTimedOutDrainStopsCleanly: a non-reader owed replies holds the
// drain until the deadline's reserve; stopping the reactor must then fit in
// that reserve. gnet's Engine.Stop only polls for the end every 500 ms, so
// with a reserve under that (shutdown_timeout under 5 s) Stop always
// returned "context deadline exceeded" and the binaries exited 1.
func TestStopTimedOutDrainStopsCleanly(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{WriteTimeout: time.Minute, MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20}, nil, 0)
	s := m.Server.(*engine.Server)
	nonReader(t, m.Addr(), 50_000)
	testclient.Eventually(t, "the node to owe the non-reader", func() bool { return s.Owed() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop after a drain that ran out of time: %v (after %v)", err, time.Since(start))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v, over its 2 s context", d)
	}
}
