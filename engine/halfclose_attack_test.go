package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/engine"
)

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestAttackHalfCloseStop: SIGTERM while half-closed clients that never
// read are owed megabytes each (write_timeout far away). Stop must return
// within its context; each client must then read whole lines and a clean
// end, or a reset: never a torn last line followed by EOF, which it would
// take for the whole reply; and the node must hold no descriptor of them
// afterwards.
func TestAttackHalfCloseStop(t *testing.T) {
	base := openFDs(t)
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 256 << 20, WriteTimeout: time.Minute}, nil, 0)
	s := m.Server.(*engine.Server)
	const clients, n = 4, 150_000
	req := []byte(attackIAMATs("stop", 0, n))
	conns := make([]interface {
		io.Reader
		Close() error
	}, clients)
	var wg sync.WaitGroup
	for i := range conns {
		c := dialTiny(t, m.Addr())
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		conns[i] = c
		wg.Go(func() {
			if _, err := c.Write(req); err == nil {
				_ = c.CloseWrite()
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for s.Owed() == 0 || s.Clients() < clients {
		if time.Now().After(deadline) {
			t.Fatalf("the half-closed clients are owed %d bytes, %d clients", s.Owed(), s.Clients())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // every EOF seen
	t.Logf("%d half-closed clients owed %d bytes", clients, s.Owed())

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	begun := time.Now()
	err := m.Stop(ctx)
	if took := time.Since(begun); took > 10*time.Second { // write_timeout is a minute away
		t.Errorf("Stop took %v with a context of 500ms (%v)", took, err)
	}
	for i, c := range conns {
		got, err := io.ReadAll(c)
		switch {
		case errors.Is(err, syscall.ECONNRESET):
		case err != nil:
			t.Errorf("client %d: read %d bytes, then %v", i, len(got), err)
		case len(got) > 0 && !bytes.HasSuffix(got, []byte("\n")):
			t.Errorf("client %d: read %d bytes ending %q, then a clean EOF: a torn reply taken for a whole one", i, len(got), got[max(0, len(got)-20):])
		}
		c.Close()
	}
	deadline = time.Now().Add(5 * time.Second)
	for openFDs(t) > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open after Stop and the clients closed, %d before the node started", openFDs(t), base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAttackHalfCloseDuringDrain: a client is owed more replies than the
// kernel holds when SIGTERM comes, and half-closes while the node drains
// (it has all the time it needs). Every reply is still owed to it: it must
// read them all, whole and in order, then EOF.
func TestAttackHalfCloseDuringDrain(t *testing.T) {
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 256 << 20, WriteTimeout: 10 * time.Second}, nil, 0)
	s := m.Server.(*engine.Server)
	c := dialTiny(t, m.Addr())
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	const n = 100_000
	if _, err := c.Write([]byte(attackIAMATs("drain", 0, n))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Lines[engine.LineIAMAT] < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines answered", s.Stats().Lines[engine.LineIAMAT], n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- m.Stop(ctx)
	}()
	time.Sleep(200 * time.Millisecond) // the drain has begun
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(c, 64<<10)
	for i := range n {
		attackWantAT(t, r, "drain", i)
	}
	attackWantEOF(t, r)
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// TestAttackStopCutsNonReader: SIGTERM with a client that never reads and
// is owed more than the kernel holds; Stop's time runs out first. The
// client must then read whole lines and a reset, never a torn last line
// followed by a clean EOF.
func TestAttackStopCutsNonReader(t *testing.T) {
	m := startLimited(t, engine.Limits{MaxOutbound: 64 << 20, MaxOutputTotal: 256 << 20, WriteTimeout: time.Minute}, nil, 0)
	s := m.Server.(*engine.Server)
	c := dialTiny(t, m.Addr())
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	const n = 100_000
	if _, err := c.Write([]byte(attackIAMATs("cut", 0, n))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Lines[engine.LineIAMAT] < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines answered", s.Stats().Lines[engine.LineIAMAT], n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = m.Stop(ctx)
	got, err := io.ReadAll(c)
	if err == nil && len(got) > 0 && !bytes.HasSuffix(got, []byte("\n")) {
		t.Errorf("read %d bytes ending %q, then a clean EOF: a torn reply taken for a whole one", len(got), got[max(0, len(got)-20):])
	} else if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read %d bytes, then %v", len(got), err)
	}
}

// TestAttackHalfClosedOverOutputTotal: clients pipeline requests, half-close
// and never read, each owed more than the kernel holds, together far more
// than max_output_total (write_timeout far away). What half-closed clients
// are owed counts toward max_output_total like any other client's output:
// the node closes (resets) those owing the most until it owes no more than
// the bound, and a client that reads is still served.
func TestAttackHalfClosedOverOutputTotal(t *testing.T) {
	const total = 1 << 20
	m := startLimited(t, engine.Limits{MaxOutbound: 1 << 20, MaxOutputTotal: total, WriteTimeout: time.Minute}, nil, 0)
	s := m.Server.(*engine.Server)
	pr := newProbe(t, m.Addr())
	req := []byte(attackIAMATs("total", 0, 150_000)) // about 6.7 MB of replies each, more than the kernel holds
	var wg sync.WaitGroup
	var conns []net.Conn
	for range 8 {
		c := dialTiny(t, m.Addr())
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		wg.Go(func() {
			if _, err := c.Write(req); err == nil {
				_ = c.CloseWrite()
			}
		})
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // every EOF seen
	t.Logf("owed %d bytes, %d clients", s.Owed(), s.Clients())
	deadline := time.Now().Add(10 * time.Second)
	for s.Owed() > total {
		if time.Now().After(deadline) {
			t.Fatalf("the node owes %d bytes, over max_output_total (%d), to half-closed clients", s.Owed(), total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pr.check(t)
	// Those cut off get a reset, never a torn line and a clean end.
	for i, c := range conns {
		got, err := io.ReadAll(c)
		if err == nil && len(got) > 0 && !bytes.HasSuffix(got, []byte("\n")) {
			t.Errorf("client %d: read %d bytes ending %q, then a clean EOF", i, len(got), got[max(0, len(got)-20):])
		}
	}
}
