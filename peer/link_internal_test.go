package peer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// handshake runs a dialer and an acceptor over a pipe; rec records what
// the dialer wrote.
func handshake(d, a *Links, rec io.Writer) (name string, errD, errA error) {
	c1, c2 := net.Pipe()
	done := make(chan error, 1)
	go func() {
		defer c1.Close()
		done <- d.dialHandshake(bufio.NewReader(c1), bufio.NewWriter(io.MultiWriter(c1, rec)), a.cfg.Name)
	}()
	name, errA = a.acceptHandshake(bufio.NewReader(c2), bufio.NewWriter(c2), nil)
	if errA != nil {
		c2.Close()
	}
	errD = <-done
	c2.Close()
	return name, errD, errA
}

func testLinks(t testing.TB, name, secret string, nbs ...string) *Links {
	ls := New(Config{Name: name, Cache: herd.NewCache(), Secret: []byte(secret)})
	ls.allowed.Store(&nbs)
	t.Cleanup(ls.Close)
	return ls
}

// TestHandshakeReplayFails: a recorded handshake of the dialer, replayed
// to the acceptor, fails against the acceptor's fresh nonce.
func TestHandshakeReplayFails(t *testing.T) {
	welsh := testLinks(t, "Welsh", "secret", "Alford")
	alford := testLinks(t, "Alford", "secret", "Welsh")
	var rec bytes.Buffer
	name, errD, errA := handshake(welsh, alford, &rec)
	if errD != nil || errA != nil || name != "Welsh" {
		t.Fatalf("honest handshake: %q, %v, %v", name, errD, errA)
	}
	if bytes.Contains(rec.Bytes(), []byte("secret")) {
		t.Fatalf("the secret crossed the wire: %q", rec.Bytes())
	}
	c1, c2 := net.Pipe()
	go func() {
		_, _ = c1.Write(rec.Bytes())
		_, _ = io.Copy(io.Discard, c1)
	}()
	_, err := alford.acceptHandshake(bufio.NewReader(c2), bufio.NewWriter(c2), nil)
	c2.Close()
	c1.Close()
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("replayed handshake: %v, want ErrAuth", err)
	}

	// Wrong secret, either side; no secret against a secret; a stranger.
	for _, tc := range []struct {
		d, a *Links
	}{
		{testLinks(t, "Welsh", "other", "Alford"), alford},
		{welsh, testLinks(t, "Alford", "other", "Welsh")},
		{testLinks(t, "Welsh", "", "Alford"), alford},
		{welsh, testLinks(t, "Alford", "", "Welsh")},
	} {
		if _, errD, errA := handshake(tc.d, tc.a, io.Discard); errD == nil || errA == nil {
			t.Errorf("%q/%q secrets: dialer %v, acceptor %v; want both to fail", tc.d.cfg.Secret, tc.a.cfg.Secret, errD, errA)
		}
	}
	if _, errD, errA := handshake(testLinks(t, "Mallory", "secret", "Alford"), alford, io.Discard); errD == nil || errA == nil {
		t.Errorf("a stranger: dialer %v, acceptor %v", errD, errA)
	}
	if _, errD, errA := handshake(testLinks(t, "Welsh", "", "Alford"), testLinks(t, "Alford", "", "Welsh"), io.Discard); errD != nil || errA != nil {
		t.Errorf("open handshake: %v, %v", errD, errA)
	}
}

func entryLine(client string, sec int64) []byte {
	return fmt.Appendf(nil, "AT Alford +0.000000001 %s +34.068930-118.445127 %d.000000001", client, sec)
}

// offer stores the client's line for time sec in c and returns it.
func offer(c *herd.Cache, client string, sec int64) []byte {
	line := entryLine(client, sec)
	c.Offer([]byte(client), codec.Stamp{Sec: sec, Nsec: 1}, line)
	return line
}

// TestStalledNeighbour: a neighbour that stops reading stalls the link,
// and nothing is dropped: every client with an update waits once in the
// link's pending set however many updates it gets meanwhile, and when the
// neighbour reads again it gets each client's newest line, once.
func TestStalledNeighbour(t *testing.T) {
	cache := herd.NewCache()
	// A timeout long enough that the stall outlasts the flooding, even
	// under the race detector.
	ls := New(Config{Name: "A", Cache: cache, Peers: Settings{Timeout: time.Minute}})
	l := newLink(ls, Neighbor{Name: "B"})
	ls.list.Store(&[]*link{l})
	mine, theirs := net.Pipe()
	defer theirs.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_, _ = l.serve(ls.ctx, mine)
	}()
	r, w := bufio.NewReader(theirs), bufio.NewWriter(theirs)
	if line, err := readLine(r); err != nil || string(line) != "PEER A" {
		t.Fatalf("handshake %q, %v", line, err)
	}
	if err := writeLine(w, "PEER", "B"); err != nil {
		t.Fatal(err)
	}
	for !l.up.Load() {
		time.Sleep(time.Millisecond)
	}
	// The link now blocks writing its SYNC: nobody reads. 100 clients get
	// 1,000 updates each meanwhile.
	const clients, updates = 100, 1000 // 100,000 updates: more than the old queue held
	for k := range updates {
		for i := range clients {
			ls.Flood(offer(cache, "c"+strconv.Itoa(i), int64(k+1)), "")
		}
	}
	st := ls.Stats()[0]
	if st.Pending != clients || st.Coalesced != clients*(updates-1) || st.Lag <= 0 {
		t.Errorf("stalled link: %+v, want %d pending, %d coalesced, a lag", st, clients, clients*(updates-1))
	}
	// Unstall: read everything, answering syncs with "nothing to do".
	got := map[string]int{}
	var lines []string
	for len(lines) < clients {
		line, err := readLine(r)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(line, []byte("SYNC ")) {
			if err := writeLine(w, "DIGEST", "11", "0"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		lines = append(lines, string(line))
		got[string(line)]++
	}
	for i := range clients {
		if n := got[string(entryLine("c"+strconv.Itoa(i), updates))]; n != 1 {
			t.Errorf("c%d: newest line sent %d times, want once; sent %q", i, n, lines)
		}
	}
	waitFor(t, "the link's pending set to empty", func() bool { st := ls.Stats()[0]; return st.Pending == 0 && st.Lag == 0 })
	if st := ls.Stats()[0]; st.Sent != clients {
		t.Errorf("sent %d updates, want %d", st.Sent, clients)
	}
	go func() { _, _ = io.Copy(io.Discard, theirs) }()
	ls.Close()
	<-served
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	return c.w.Write(p)
}

// syncOnce runs one digest sync from sender s to receiver r in memory,
// through the same code the links run, and returns the bytes that crossed
// the wire both ways and the AT lines s sent.
func syncOnce(tb testing.TB, s, r *Links) (wire int, sent []string) {
	var s2r, r2s bytes.Buffer
	cs, cr := &countWriter{w: &s2r}, &countWriter{w: &r2s}
	ws, wr := bufio.NewWriterSize(cs, 64<<10), bufio.NewWriterSize(cr, 64<<10)
	rs, rr := bufio.NewReaderSize(&s2r, 64<<10), bufio.NewReaderSize(&r2s, 64<<10)
	l := newLink(s, Neighbor{Name: r.cfg.Name})
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	sy, err := s.startSync(ws)
	must(err)
	var bits uint
	receive := func() { // r reads what s wrote
		for {
			line, err := readLine(rs)
			if err == io.EOF {
				return
			}
			must(err)
			switch {
			case bytes.HasPrefix(line, []byte("SYNC ")):
				bits, err = r.answerSync(wr, line)
			case bytes.HasPrefix(line, []byte("WANT ")):
				err = r.answerWant(rs, wr, line, bits)
			default:
				sent = append(sent, string(line))
			}
			must(err)
		}
	}
	msgs := make(chan syncMsg, 4)
	done := false
	for !done {
		receive()
		if err := readSyncAnswers(rr, msgs, nil, func() {}); err != io.EOF {
			must(err)
		}
		if len(msgs) == 0 {
			tb.Fatal("sync: no answer")
		}
		done, err = l.onSyncAnswer(ws, sy, <-msgs)
		must(err)
	}
	receive()
	return cs.n + cr.n, sent
}

// fill builds a cache of n clients, and a copy where k of them, spread
// evenly, are missing or older.
func fill(n, k int) (*herd.Cache, *herd.Cache) {
	a, b := herd.NewCache(), herd.NewCache()
	every := n + 1
	if k > 0 {
		every = n / k
	}
	for i := range n {
		id := "client-" + strconv.Itoa(i)
		offer(a, id, 1_700_000_002)
		switch {
		case k == 0 || i%every != 0:
			offer(b, id, 1_700_000_002)
		case i/every%2 == 0:
			offer(b, id, 1_700_000_001) // older
		} // else missing
	}
	return a, b
}

// TestDigestSync: one sync sends exactly what the receiver lacks, and
// nothing when the caches agree; an empty receiver gets everything.
func TestDigestSync(t *testing.T) {
	const n = 20000
	for _, tc := range []struct {
		name   string
		differ bool
		want   int
	}{{"agree", false, 0}, {"differ", true, n / 100}} {
		t.Run(tc.name, func(t *testing.T) {
			k := 0
			if tc.differ {
				k = n / 100
			}
			a, b := fill(n, k)
			s, r := withNode(New(Config{Name: "S", Cache: a})), withNode(New(Config{Name: "R", Cache: b}))
			defer s.Close()
			defer r.Close()
			wire, sent := syncOnce(t, s, r)
			if len(sent) != tc.want {
				t.Fatalf("sent %d lines, want %d", len(sent), tc.want)
			}
			for _, line := range sent {
				var cmd codec.Command
				if codec.Parse([]byte(line), &cmd) != nil {
					t.Fatalf("bad line %q", line)
				}
				r.node.Update(nil, &cmd, "S")
			}
			for _, b := range []uint{minBucketBits, herd.DigestBits, maxBucketBits} { // the running sums are the walk's
				if w, d := makeDigest(a, b), s.digestOf(b); !slices.Equal(w.sums, d.sums) || w.root != d.root || w.count != d.count {
					t.Errorf("%d bits: the node's running digest differs from a walk of its cache", b)
				}
			}
			if c1, r1 := s.node.Digest(); true {
				if c2, r2 := r.node.Digest(); c1 != c2 || r1 != r2 {
					t.Error("running digests differ after the sync")
				}
			}
			if d1, d2 := makeDigest(a, 12), makeDigest(b, 12); d1.root != d2.root || d1.count != d2.count {
				t.Error("caches differ after the sync")
			}
			t.Logf("%d clients, %s: %d bytes on the wire, %d lines", n, tc.name, wire, len(sent))
		})
	}
	t.Run("empty", func(t *testing.T) {
		a, _ := fill(1000, 0)
		s := New(Config{Name: "S", Cache: a})
		r := New(Config{Name: "R", Cache: herd.NewCache()})
		defer s.Close()
		defer r.Close()
		if _, sent := syncOnce(t, s, r); len(sent) != 1000 {
			t.Fatalf("sent %d to an empty receiver, want 1000", len(sent))
		}
	})
}

// withNode gives ls a node over its cache, whose running digest the
// links use, as Start does.
func withNode(ls *Links) *Links {
	ls.node = herd.NewNode(herd.NodeOptions{Name: ls.cfg.Name, Cache: ls.cfg.Cache})
	return ls
}

// BenchmarkDigestSync measures one sync between two caches of a million
// clients, both sides' CPU in one goroutine, and the bytes on the wire.
func BenchmarkDigestSync(b *testing.B) {
	const n = 1_000_000
	for _, k := range []int{0, 10, 10_000} {
		b.Run(fmt.Sprintf("clients=1000000/differ=%d", k), func(b *testing.B) {
			a, c := fill(n, k)
			s, r := withNode(New(Config{Name: "S", Cache: a})), withNode(New(Config{Name: "R", Cache: c}))
			defer s.Close()
			defer r.Close()
			b.ReportAllocs()
			b.ResetTimer()
			var wire, lines int
			cpu0 := cpuTime()
			for b.Loop() {
				var sent []string
				wire, sent = syncOnce(b, s, r)
				lines = len(sent)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(wire), "wire-bytes/op")
			b.ReportMetric(float64(lines), "lines/op")
			b.SetBytes(int64(wire))
		})
	}
	b.Run("digest/clients=1000000", func(b *testing.B) {
		a, _ := fill(n, 0)
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			makeDigest(a, bucketBits(n))
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	})
}

// cpuTime is the CPU time (user and system) of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestFlappingNeighbourBacksOff: a neighbour that completes the handshake
// and drops the link at once is redialled with a growing backoff, not in a
// tight loop (the backoff resets only after a link stayed up a while).
func TestFlappingNeighbourBacksOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1000)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			r, w := bufio.NewReader(c), bufio.NewWriter(c)
			if _, err := readLine(r); err == nil {
				_ = writeLine(w, "PEER", "B")
			}
			c.Close()
		}
	}()
	ls := New(Config{Name: "A", Cache: herd.NewCache(),
		Peers: Settings{BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond}})
	ls.Start(nil, []Neighbor{{Name: "B", Address: ln.Addr().String()}})
	time.Sleep(1500 * time.Millisecond)
	ls.Close()
	// 10, 20, 40, 80, 160, then 200 ms waits (jittered down to half): about
	// 12 dials in 1.5 s; resetting after every handshake would be ~150.
	if n := len(accepted); n > 30 {
		t.Errorf("%d dials in 1.5 s to a neighbour that drops every link at once", n)
	} else {
		t.Logf("%d dials in 1.5 s", n)
	}
	if s := ls.Stats()[0]; s.Reconnects == 0 || s.State != StateDown {
		t.Errorf("status %+v", s)
	}
}
