// Package conformance is the client-facing behaviour every herd server must
// share, whatever its I/O model: the gnet engine and the goroutine baseline
// run the same suite, so that a benchmark between them compares only how
// they do I/O.
package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/places"
)

// Start starts a node as opts describe (name, places backend if any, and
// MaxFuture; no neighbours) with limits, zero fields meaning defaults, stops it when the
// test ends, and returns its address.
type Start func(t *testing.T, opts herd.NodeOptions, limits engine.Limits) string

// Run runs every check against servers made by start.
func Run(t *testing.T, start Start) {
	for _, c := range []struct {
		name string
		f    func(*testing.T, Start)
	}{
		{"invalid-lines", invalidLines},
		{"pipelined-thousand", pipelinedThousand},
		{"half-close", halfClose},
		{"half-close-slow-reader", halfCloseSlowReader},
		{"overlong-line", overlongLine},
		{"split-reads", splitReads},
		{"close-after-reply", closeAfterReply},
		{"stale-iamat", staleIAMAT},
		{"far-future-iamat", farFutureIAMAT},
		{"whatsat-order", whatsatOrder},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each check runs its own server
			c.f(t, start)
		})
	}
}

// farFutureIAMAT: the origin refuses an IAMAT more than limits.max_future
// ahead of its clock, which would freeze the client's location for ever.
func farFutureIAMAT(t *testing.T, start Start) {
	c := testclient.Dial(t, start(t, herd.NodeOptions{Name: "Ball", MaxFuture: time.Hour}, engine.Limits{}))
	for _, l := range []string{
		"IAMAT kiwi +1.0+1.0 999999999999999999.0",
		fmt.Sprintf("IAMAT kiwi +1.0+1.0 %d", time.Now().Add(2*time.Hour).Unix()),
	} {
		if got := c.Ask(l); got != "? "+l+"\n" {
			t.Errorf("%q: got %q", l, got)
		}
	}
	l := fmt.Sprintf("IAMAT kiwi +1.0+1.0 %d", time.Now().Add(30*time.Minute).Unix())
	if got := c.Ask(l); !strings.HasPrefix(got, "AT Ball ") {
		t.Errorf("%q (within the bound): got %q", l, got)
	}
}

// invalidLines: every example of docs/PROTOCOL.md's Invalid input, and more, gets
// "? line"; the connection keeps working.
func invalidLines(t *testing.T, start Start) {
	c := testclient.Dial(t, start(t, herd.NodeOptions{Name: "Ball"}, engine.Limits{}))
	for _, l := range []string{
		"LLL",
		"IAMAT kiwi 34.068930-118.445127 1.0",
		"WHATSAT kiwi 51 5",
		"WHATSAT never-seen-client 10 5",
		"iamat kiwi +1.0+1.0 1",
		"",
		"   IAMAT  kiwi +91.0+1.0 1  ",
		"AT x y z",
		"IAMAT kiwi +1.0+1.0 1e9",
	} {
		if got, want := c.Ask(l), "? "+l+"\n"; got != want {
			t.Errorf("%q: got %q, want %q", l, got, want)
		}
	}
	// \r\n is one terminator; the reply carries the line without it.
	if got := c.Ask("LLL\r"); got != "? LLL\n" {
		t.Errorf("crlf: %q", got)
	}
	if got := c.Ask("IAMAT kiwi +1.0+1.0 1"); !strings.HasPrefix(got, "AT Ball ") {
		t.Errorf("connection unusable after invalid lines: %q", got)
	}
}

// pipelinedThousand: 1,000 IAMATs in one write get 1,000 replies in order.
func pipelinedThousand(t *testing.T, start Start) {
	c := testclient.Dial(t, start(t, herd.NodeOptions{Name: "Welsh"}, engine.Limits{}))
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "IAMAT client%d +1.0+2.0 %d.5\n", i, 1000+i)
	}
	c.Send(b.String())
	for i := range 1000 {
		l := c.Line()
		if want := fmt.Sprintf(" client%d +1.0+2.0 %d.5\n", i, 1000+i); !strings.HasSuffix(l, want) || !strings.HasPrefix(l, "AT Welsh ") {
			t.Fatalf("reply %d: %q, want suffix %q", i, l, want)
		}
	}
}

// halfClose: a client that half-closes gets every reply, and bytes left
// without a newline count as a last line.
func halfClose(t *testing.T, start Start) {
	c := testclient.Dial(t, start(t, herd.NodeOptions{Name: "Welsh"}, engine.Limits{}))
	c.Send("IAMAT a +1.0+2.0 1\nIAMAT b +1.0+2.0 2\nLLL")
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(c.R)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(all), "\n")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], " a +1.0+2.0 1") || !strings.HasSuffix(lines[1], " b +1.0+2.0 2") || lines[2] != "? LLL" || lines[3] != "" {
		t.Fatalf("half-close replies: %q", all)
	}
}

// halfCloseSlowReader: a client with a small receive buffer pipelines
// 60,000 IAMATs, half-closes, and reads only a second later, in bursts:
// every reply arrives, whole and in order, then EOF.
func halfCloseSlowReader(t *testing.T, start Start) {
	addr := start(t, herd.NodeOptions{Name: "Welsh"}, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: 10 * time.Second})
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := nc.(*net.TCPConn)
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	const n = 60_000
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "IAMAT slow%d +1.0+2.0 %d\n", i, 1000+i)
	}
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(b.String()))
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	time.Sleep(time.Second)
	r := bufio.NewReaderSize(&burstReader{r: c, burst: 32 << 10, pause: 10 * time.Millisecond}, 4096)
	for i := range n {
		l, err := r.ReadString('\n')
		if want := fmt.Sprintf(" slow%d +1.0+2.0 %d\n", i, 1000+i); err != nil || !strings.HasPrefix(l, "AT Welsh ") || !strings.HasSuffix(l, want) {
			t.Fatalf("reply %d of %d: %q, %v", i, n, l, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
		t.Fatalf("after the last reply: %q, %v (want EOF)", rest, err)
	}
}

// burstReader reads at most burst bytes, then pauses: a slow client.
type burstReader struct {
	r     io.Reader
	burst int
	pause time.Duration
	got   int
}

func (s *burstReader) Read(p []byte) (int, error) {
	if s.got >= s.burst {
		time.Sleep(s.pause)
		s.got = 0
	}
	n, err := s.r.Read(p[:min(len(p), s.burst-s.got)])
	s.got += n
	return n, err
}

// overlongLine: a line over the limit is answered with "? " and the first
// limit's worth of bytes, before its newline arrives, and only that client
// is disconnected.
func overlongLine(t *testing.T, start Start) {
	addr := start(t, herd.NodeOptions{Name: "Hamilton"}, engine.Limits{})
	other := testclient.Dial(t, addr)
	c := testclient.Dial(t, addr)
	long := strings.Repeat("x", 5000) // no newline: the limit applies before it arrives
	c.Send(long)
	got, err := io.ReadAll(c.R)
	if err != nil {
		t.Fatal(err)
	}
	if want := "? " + long[:4096] + "\n"; string(got) != want {
		t.Fatalf("over-long reply: %d bytes, want %d", len(got), len(want))
	}
	if r := other.Ask("IAMAT kiwi +1.0+1.0 1"); !strings.HasPrefix(r, "AT Hamilton ") {
		t.Fatalf("other client: %q", r)
	}
}

// splitReads: lines that arrive a byte at a time are framed the same.
func splitReads(t *testing.T, start Start) {
	c := testclient.Dial(t, start(t, herd.NodeOptions{Name: "Ball"}, engine.Limits{}))
	for _, b := range []byte("IAMAT kiwi +1.0+1.0 1\r\nLLL\r\n") {
		c.Send(string(b))
		time.Sleep(time.Millisecond) // separate segments, so the server sees partial lines
	}
	if got := c.Line(); !strings.HasPrefix(got, "AT Ball ") || !strings.HasSuffix(got, " kiwi +1.0+1.0 1\n") {
		t.Fatalf("split IAMAT: %q", got)
	}
	if got := c.Line(); got != "? LLL\n" {
		t.Fatalf("split invalid: %q", got)
	}
}

// closeAfterReply: one request per connection.
func closeAfterReply(t *testing.T, start Start) {
	c := testclient.Dial(t, start(t, herd.NodeOptions{Name: "Welsh"}, engine.Limits{CloseAfterReply: true}))
	c.Send("IAMAT a +1.0+2.0 1\nIAMAT b +1.0+2.0 2\n")
	all, err := io.ReadAll(c.R)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(string(all), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[0], " a +1.0+2.0 1") {
		t.Fatalf("close-after-reply: %q", all)
	}
}

// staleIAMAT: an IAMAT not newer than the stored one gets the stored line.
func staleIAMAT(t *testing.T, start Start) {
	c := testclient.Dial(t, start(t, herd.NodeOptions{Name: "Holiday"}, engine.Limits{}))
	first := c.Ask("IAMAT kiwi +34.068930-118.445127 1479413884.5")
	if got := c.Ask("IAMAT kiwi +10.0-10.0 1479413884.4"); got != first {
		t.Fatalf("stale IAMAT: got %q, want stored %q", got, first)
	}
	if got := c.Ask("IAMAT kiwi +10.0-10.0 1479413885"); got == first || !strings.Contains(got, "+10.0-10.0") {
		t.Fatalf("newer IAMAT not stored: %q", got)
	}
}

// slowPlaces answers every query after delay with an empty result.
type slowPlaces struct{ delay time.Duration }

func (p slowPlaces) Name() string { return "slow" }

func (p slowPlaces) Nearby(ctx context.Context, _ places.Query, dst []byte) ([]byte, error) {
	select {
	case <-time.After(p.delay):
		return append(dst, "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}"...), nil
	case <-ctx.Done():
		return dst, ctx.Err()
	}
}

// whatsatOrder: replies keep request order. A slow WHATSAT, then an IAMAT
// and an invalid line in the same write: their replies wait for the
// WHATSAT's, which ends with its one empty line.
func whatsatOrder(t *testing.T, start Start) {
	opts := herd.NodeOptions{Name: "Holiday", Places: slowPlaces{200 * time.Millisecond}, PlacesTimeout: 5 * time.Second, MaxInFlight: 4}
	c := testclient.Dial(t, start(t, opts, engine.Limits{}))
	at := c.Ask("IAMAT kiwi +34.068930-118.445127 1")
	c.Send("WHATSAT kiwi 10 5\nIAMAT other +1.0+1.0 2\nLLL\n")
	want := []string{at, "{\n", "   \"html_attributions\" : [],\n", "   \"results\" : [],\n", "   \"status\" : \"ZERO_RESULTS\"\n", "}\n", "\n"}
	for i, w := range want {
		if got := c.Line(); got != w {
			t.Fatalf("WHATSAT reply line %d: got %q, want %q", i, got, w)
		}
	}
	if l := c.Line(); !strings.HasPrefix(l, "AT Holiday ") || !strings.Contains(l, " other +1.0+1.0 2") {
		t.Fatalf("the IAMAT after the WHATSAT: %q", l)
	}
	if l := c.Line(); l != "? LLL\n" {
		t.Fatalf("the invalid line after the WHATSAT: %q", l)
	}
}
