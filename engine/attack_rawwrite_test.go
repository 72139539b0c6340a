package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

// attackDialTiny dials addr with a 4 KiB receive buffer, so the node's
// raw writes meet a full socket quickly.
func attackDialTiny(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c := dialTiny(t, addr)
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	return c
}

func attackIAMATs(id string, from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "IAMAT %s-%d +1.0-2.0 %d\n", id, i, 1000+i)
	}
	return b.String()
}

func attackWantAT(t *testing.T, r *bufio.Reader, id string, i int) {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reply to %s-%d: %v (got %q)", id, i, err, l)
	}
	if !strings.HasPrefix(l, "AT Holiday ") || !strings.HasSuffix(l, fmt.Sprintf(" %s-%d +1.0-2.0 %d\n", id, i, 1000+i)) {
		t.Fatalf("reply to %s-%d is %q", id, i, l)
	}
}

func attackWantEOF(t *testing.T, r *bufio.Reader) {
	t.Helper()
	rest, err := io.ReadAll(r)
	if err != nil || len(rest) != 0 {
		t.Fatalf("after the last reply: %q, %v (want a clean EOF)", rest, err)
	}
}

// TestAttackRawWriteOrderBehindWhatsat: replies queued behind running
// WHATSATs (st.pending) must not overtake them through the raw write, even
// when the socket is full and gnet buffers part of a batch.
func TestAttackRawWriteOrderBehindWhatsat(t *testing.T) {
	t.Parallel()
	p := newGated()
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: time.Minute, MaxPending: 100_000, MaxPausedInbound: 64 << 20}, p, 4)
	c := attackDialTiny(t, m.Addr())
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("IAMAT kiwi +34.068930-118.445127 1\n")); err != nil {
		t.Fatal(err)
	}
	at, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	req := attackIAMATs("a", 0, n) + "WHATSAT kiwi 10 5\n" + attackIAMATs("b", 0, n) + "WHATSAT kiwi 10 5\n" + attackIAMATs("c", 0, n)
	go func() { _, _ = c.Write([]byte(req)) }()
	<-p.started
	time.Sleep(100 * time.Millisecond) // let later replies pile up behind the WHATSAT
	close(p.release)
	for i := range n {
		attackWantAT(t, r, "a", i)
	}
	for _, id := range []string{"b", "c"} {
		if l, err := r.ReadString('\n'); err != nil || l != at {
			t.Fatalf("WHATSAT reply opens with %q, %v; want %q", l, err, at)
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if l == "\n" {
				break
			}
		}
		for i := range n {
			attackWantAT(t, r, id, i)
		}
	}
}

// TestAttackRawWritePeerReset: clients that pipeline, leave the socket full
// and then reset (or half-read and close) must be closed cleanly: the node
// keeps serving, and no connection or owed byte is leaked.
func TestAttackRawWritePeerReset(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: time.Minute}, nil, 0)
	s := m.Server.(*engine.Server)
	pr := newProbe(t, m.Addr())
	pr.check(t)
	for i := range 12 {
		c := attackDialTiny(t, m.Addr())
		req := []byte(attackIAMATs(fmt.Sprintf("rst%d", i), 0, 5000))
		go func() { _, _ = c.Write(req) }()
		testclient.Eventually(t, "the node to start answering", func() bool {
			b := make([]byte, 1)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(b)
			return n == 1
		})
		if i%2 == 0 {
			_ = c.SetLinger(0) // RST: the next write meets ECONNRESET/EPIPE
		}
		c.Close()
	}
	pr.check(t)
	testclient.Eventually(t, "every reset client to be closed", func() bool { return s.Clients() == 1 && s.Owed() == 0 })
	pr.check(t)
}

// TestAttackOverlongLineAfterBatch: replies of the lines before an
// over-long one go out first, then "? " and the first max_line bytes, then
// EOF; a line of exactly max_line (with "\r\n") is answered and the
// connection stays open.
func TestAttackOverlongLineAfterBatch(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{MaxLine: 100}, nil, 0)
	c := testclient.Dial(t, m.Addr())
	exact := "IAMAT " + strings.Repeat("e", 100-len("IAMAT  +1.0-2.0 1")) + " +1.0-2.0 1"
	if len(exact) != 100 {
		t.Fatalf("exact line is %d bytes", len(exact))
	}
	if got := c.Ask(exact + "\r"); !strings.HasPrefix(got, "AT Holiday ") {
		t.Fatalf("a line of exactly max_line: %q", got)
	}
	long := strings.Repeat("L", 250)
	c.Send(attackIAMATs("ol", 0, 3) + long + "\n" + attackIAMATs("after", 0, 2))
	for i := range 3 {
		attackWantAT(t, c.R, "ol", i)
	}
	if l := c.Line(); l != "? "+long[:100]+"\n" {
		t.Fatalf("over-long line answered %q", l)
	}
	attackWantEOF(t, c.R)
	// The same when the over-long line has no newline yet.
	d := testclient.Dial(t, m.Addr())
	d.Send(attackIAMATs("ol2", 0, 2) + long)
	for i := range 2 {
		attackWantAT(t, d.R, "ol2", i)
	}
	if l := d.Line(); l != "? "+long[:100]+"\n" {
		t.Fatalf("over-long partial line answered %q", l)
	}
	attackWantEOF(t, d.R)
}

// TestAttackCloseAfterReplyPipelined: with close_after_reply, a pipelined
// batch gets exactly the first reply, then EOF.
func TestAttackCloseAfterReplyPipelined(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{CloseAfterReply: true}, nil, 0)
	for range 5 {
		c := testclient.Dial(t, m.Addr())
		c.Send(attackIAMATs("car", 0, 50))
		attackWantAT(t, c.R, "car", 0)
		attackWantEOF(t, c.R)
	}
}

// TestAttackStopDrainsFullSocket: a graceful Stop while a client that did
// not read owes a full socket and gnet buffer: every reply the node stored
// reaches the client, in order, none torn, then EOF.
func TestAttackStopDrainsFullSocket(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Limits.Limits = engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: time.Minute}.WithDefaults()
	h, err := node.StartHerd(cfg, []string{"Holiday"}, node.Options{Setup: plainSetup, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := h.Nodes[0].Server.(*engine.Server)
	c := attackDialTiny(t, h.Nodes[0].Addr())
	const n = 60_000
	req := []byte(attackIAMATs("drain", 0, n))
	go func() { _, _ = c.Write(req) }()
	time.Sleep(300 * time.Millisecond) // the socket fills; gnet holds the rest (or the node stops reading)
	t.Logf("owed before Stop: %d bytes", s.Owed())
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		stopped <- h.Stop(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	r := bufio.NewReader(c)
	got := 0
	for ; ; got++ {
		l, err := r.ReadString('\n')
		if err == io.EOF && l == "" {
			break
		}
		if err != nil {
			t.Fatalf("after %d replies: %v (%q)", got, err, l)
		}
		if want := fmt.Sprintf(" drain-%d +1.0-2.0 %d\n", got, 1000+got); !strings.HasPrefix(l, "AT Holiday ") || !strings.HasSuffix(l, want) {
			t.Fatalf("reply %d is %q", got, l)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stored := 0
	for i := range n {
		if h.Nodes[0].Node.Lookup(fmt.Appendf(nil, "drain-%d", i)) != nil {
			stored++
		}
	}
	if stored > got {
		t.Fatalf("the node stored %d lines but delivered %d replies", stored, got)
	}
	t.Logf("%d replies delivered, %d stored", got, stored)
}

// TestAttackHalfCloseFullSocket: a client pipelines, half-closes and reads
// only later: every reply must still arrive, in order, then EOF.
func TestAttackHalfCloseFullSocket(t *testing.T) {
	t.Parallel()
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: time.Minute}, nil, 0)
	c := attackDialTiny(t, m.Addr())
	const n = 60_000
	done := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(attackIAMATs("hc", 0, n) + "IAMAT hc-last +1.0-2.0 7"))
		if err == nil {
			err = c.CloseWrite()
		}
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	r := bufio.NewReader(c)
	for i := range n {
		attackWantAT(t, r, "hc", i)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l, err := r.ReadString('\n'); err != nil || !strings.HasSuffix(l, " hc-last +1.0-2.0 7\n") {
		t.Fatalf("last line after half-close: %q, %v", l, err)
	}
	attackWantEOF(t, r)
}
