package engine_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/internal/testclient"
)

// TestHalfCloseSlowReader: a client pipelines 60,000 IAMATs and a WHATSAT
// still running when it half-closes, then reads in small bursts, starting a
// second late: every reply arrives, whole and in order, then EOF; the node
// owes nothing and holds no place for it afterwards.
func TestHalfCloseSlowReader(t *testing.T) {
	t.Parallel()
	p := newGated()
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: 5 * time.Second}, p, 2)
	s := m.Server.(*engine.Server)
	pr := newProbe(t, m.Addr())
	c := dialTiny(t, m.Addr())
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	const n = 60_000
	req := "IAMAT slow +1.0-2.0 999\n" + attackIAMATs("hc", 0, n) + "WHATSAT slow 10 5\n" + attackIAMATs("tail", 0, 10) + "IAMAT hc-last +1.0-2.0 7"
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(req))
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	<-p.started
	time.Sleep(time.Second)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	released := false
	r := bufio.NewReaderSize(&slowReader{r: c, burst: 32 << 10, pause: 10 * time.Millisecond}, 4096)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasSuffix(l, " slow +1.0-2.0 999\n") {
		t.Fatalf("first reply: %q, %v", l, err)
	}
	for i := range n {
		attackWantAT(t, r, "hc", i)
		if i == n/2 && !released {
			close(p.release) // the WHATSAT finishes while the client reads
			released = true
		}
	}
	l, err := r.ReadString('\n')
	if err != nil || !strings.HasSuffix(l, " slow +1.0-2.0 999\n") {
		t.Fatalf("WHATSAT reply opens with %q, %v", l, err)
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
	for i := range 10 {
		attackWantAT(t, r, "tail", i)
	}
	if l, err := r.ReadString('\n'); err != nil || !strings.HasSuffix(l, " hc-last +1.0-2.0 7\n") {
		t.Fatalf("last line after half-close: %q, %v", l, err)
	}
	attackWantEOF(t, r)
	testclient.Eventually(t, "the node to owe nothing", func() bool { return s.Clients() == 1 && s.Owed() == 0 })
	pr.check(t)
}

// slowReader reads at most burst bytes, then pauses, like a slow client.
type slowReader struct {
	r     io.Reader
	burst int
	pause time.Duration
	got   int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.got >= s.burst {
		time.Sleep(s.pause)
		s.got = 0
	}
	n, err := s.r.Read(p[:min(len(p), s.burst-s.got)])
	s.got += n
	return n, err
}

// TestHalfCloseWriteTimeout: a client that never reads, owed more than the
// kernel's buffers take, is closed after write_timeout and counted, and
// gets a reset, never a torn line followed by a clean EOF; the node owes
// nothing afterwards. Both when it half-closed and when it did not.
func TestHalfCloseWriteTimeout(t *testing.T) {
	t.Parallel()
	for _, halfClose := range []bool{true, false} {
		t.Run(fmt.Sprintf("half-closed=%v", halfClose), func(t *testing.T) {
			t.Parallel()
			writeTimeoutNoTornLine(t, halfClose)
		})
	}
}

func writeTimeoutNoTornLine(t *testing.T, halfClose bool) {
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 64 << 20, WriteTimeout: 300 * time.Millisecond}, nil, 0)
	s := m.Server.(*engine.Server)
	pr := newProbe(t, m.Addr())
	before := engine.ClosedWriteTimeout(s)
	c := dialTiny(t, m.Addr())
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte(attackIAMATs("never", 0, 60_000))); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for engine.ClosedWriteTimeout(s) != before+1 || s.Clients() != 1 || s.Owed() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("write_timeout did not close the client: closed_write_timeout +%d, %d clients, %d bytes owed",
				engine.ClosedWriteTimeout(s)-before, s.Clients(), s.Owed())
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, err := io.ReadAll(c)
	if errors.Is(err, syscall.ECONNRESET) {
		t.Logf("read %d bytes, then a reset", len(got))
	} else if err != nil || !bytes.HasSuffix(got, []byte("\n")) {
		t.Fatalf("read %d bytes ending %q, then %v: want whole lines or a reset", len(got), got[max(0, len(got)-20):], err)
	}
	pr.check(t)
}
