package herd_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
)

// delivery is one update in flight on the fake network.
type delivery struct {
	from, to string
	line     string
}

// fakeNet is an in-memory herd in the style of memberlist's MockNetwork:
// every node's Flooder queues deliveries, and the test drains the queue
// with step/run, so it decides the order and sees every message.
type fakeNet struct {
	tb    testing.TB
	nodes map[string]*herd.Node
	links map[string][]string
	queue []delivery
	log   []delivery // every delivery made, in order
	// storedFrom[node][line] is the neighbour whose delivery made node
	// store line ("" for a client).
	storedFrom map[string]map[string]string
	floods     int // Flood calls
	rng        *rand.Rand
}

type netFlooder struct {
	net  *fakeNet
	name string
}

func (f netFlooder) Flood(line []byte, from string) {
	n := f.net
	n.floods++
	n.storedFrom[f.name][string(line)] = from
	// A real link never sends to from; the fake sends to every neighbour
	// but the one Flood names, so a node naming the wrong from would echo.
	for _, nb := range n.links[f.name] {
		if nb != from {
			n.queue = append(n.queue, delivery{from: f.name, to: nb, line: string(line)})
		}
	}
}

func newFakeNet(tb testing.TB, cfg *config.Config, now codec.Stamp) *fakeNet {
	n := &fakeNet{
		tb:         tb,
		nodes:      map[string]*herd.Node{},
		links:      map[string][]string{},
		storedFrom: map[string]map[string]string{},
		rng:        rand.New(rand.NewPCG(1, 2)),
	}
	for _, nc := range cfg.Nodes {
		node := herd.NewNode(herd.NodeOptions{Name: nc.Name, Cache: herd.NewCache(), Flooder: netFlooder{n, nc.Name}, Clock: fixedClock(now)})
		n.nodes[nc.Name] = node
		for _, nb := range cfg.Neighbors(nc.Name) {
			n.links[nc.Name] = append(n.links[nc.Name], nb.Name)
		}
		n.storedFrom[nc.Name] = map[string]string{}
	}
	return n
}

// deliver hands d to its node as the engine does with a peer's AT line.
func (n *fakeNet) deliver(d delivery) {
	n.log = append(n.log, d)
	cmd := parse(n.tb, d.line)
	if cmd.Kind != codec.KindAT {
		n.tb.Fatalf("flooded a non-AT line %q", d.line)
	}
	n.nodes[d.to].Update(nil, cmd, d.from)
}

// run drains the queue (in FIFO order, or random order when shuffle is set)
// and returns how many messages were delivered; it fails the test past max.
func (n *fakeNet) run(max int, shuffle bool) int {
	n.tb.Helper()
	count := 0
	for len(n.queue) > 0 {
		if count == max {
			n.tb.Fatalf("flooding did not stop after %d messages; queue %v", max, n.queue)
		}
		i := 0
		if shuffle {
			i = n.rng.IntN(len(n.queue))
		}
		d := n.queue[i]
		n.queue = slices.Delete(n.queue, i, i+1)
		n.deliver(d)
		count++
	}
	return count
}

// checkNoEcho asserts that no node sent a line back to the neighbour that
// gave it to the node.
func (n *fakeNet) checkNoEcho() {
	n.tb.Helper()
	for _, d := range n.log {
		if src, ok := n.storedFrom[d.from][d.line]; ok && src == d.to && src != "" {
			n.tb.Errorf("%s sent %q back to %s, which it came from", d.from, d.line, d.to)
		}
	}
}

// checkAll asserts that every node holds want for client.
func (n *fakeNet) checkAll(client, want string) {
	n.tb.Helper()
	for name, node := range n.nodes {
		e := node.Lookup([]byte(client))
		if e == nil {
			n.tb.Errorf("%s: %s unknown", name, client)
		} else if string(e.Line) != want {
			n.tb.Errorf("%s: holds %q, want %q", name, e.Line, want)
		}
	}
}

func TestFloodReachesAllNodes(t *testing.T) {
	cfg := config.Default()
	for _, shuffle := range []bool{false, true} {
		net := newFakeNet(t, cfg, kiwiReceived)
		reply := net.nodes["Alford"].IAMAT(nil, parse(t, kiwiIAMAT))
		if string(reply) != kiwiAT+"\n" {
			t.Fatalf("IAMAT reply = %q, want %q", reply, kiwiAT+"\n")
		}
		msgs := net.run(100, shuffle)
		net.checkAll("kiwi.cs.ucla.edu", kiwiAT)
		net.checkNoEcho()
		// 5 links: each node stores once and forwards to every neighbour but
		// its source; at most 2 messages per link.
		if msgs > 10 {
			t.Errorf("shuffle=%v: %d messages for one update, want at most 10", shuffle, msgs)
		}
		if !shuffle && msgs != 6 {
			t.Errorf("FIFO: %d messages, want 6 (2 from Alford, 1 each from the 4 others)", msgs)
		}
		if len(net.nodes) != 5 {
			t.Errorf("%d nodes", len(net.nodes))
		}
		// Flood was called once per node: each stored the line once.
		if net.floods != 5 {
			t.Errorf("Flood called %d times, want 5", net.floods)
		}
	}
}

func TestFloodNoEchoExact(t *testing.T) {
	// Alford's two neighbours must get the update exactly once from it, and
	// it must receive nothing back from them.
	net := newFakeNet(t, config.Default(), kiwiReceived)
	net.nodes["Alford"].IAMAT(nil, parse(t, kiwiIAMAT))
	net.run(100, false)
	for _, d := range net.log {
		if d.to == "Alford" && (d.from == "Hamilton" || d.from == "Welsh") {
			t.Errorf("echo: %s -> Alford", d.from)
		}
	}
	if got := net.storedFrom["Hamilton"][kiwiAT]; got != "Alford" {
		t.Errorf("Hamilton stored from %q, want Alford", got)
	}
	if got := net.storedFrom["Alford"][kiwiAT]; got != "" {
		t.Errorf("Alford stored from %q, want \"\" (a client)", got)
	}
}

func TestFloodConverges(t *testing.T) {
	cfg := config.Default()
	names := []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"}
	for seed := range uint64(50) {
		net := newFakeNet(t, cfg, codec.Stamp{Sec: 2000})
		net.rng = rand.New(rand.NewPCG(seed, 9))
		// Reports about one client reach different nodes with various times,
		// including ties (broken by the line bytes), interleaved with flooding.
		var offered []string
		for k := range 8 {
			node := net.nodes[names[net.rng.IntN(len(names))]]
			tm := []string{"1000", "1000.5", "999", "1000.5"}[k%4]
			reply := node.IAMAT(nil, parse(t, "IAMAT kiwi +1.0+2.0 "+tm))
			offered = append(offered, strings.TrimSuffix(string(reply), "\n"))
			for range net.rng.IntN(4) {
				if len(net.queue) > 0 {
					i := net.rng.IntN(len(net.queue))
					d := net.queue[i]
					net.queue = slices.Delete(net.queue, i, i+1)
					net.deliver(d)
				}
			}
		}
		net.run(1000, true)
		max := offered[0]
		for _, l := range offered[1:] {
			if less(t, max, l) {
				max = l
			}
		}
		net.checkAll("kiwi", max)
		net.checkNoEcho()
		if t.Failed() {
			t.Fatalf("seed %d: offered %q", seed, offered)
		}
	}
}

func TestIAMATSkew(t *testing.T) {
	cases := []struct {
		now  codec.Stamp
		line string
		want string
	}{
		{kiwiReceived, kiwiIAMAT, kiwiAT},
		{codec.Stamp{Sec: 10, Nsec: 0}, "IAMAT k +0.0+0.0 22.000000001", "AT Alford -12.000000001 k +0.0+0.0 22.000000001"},
		{codec.Stamp{Sec: 5}, "IAMAT k +0.0+0.0 5", "AT Alford +0.000000000 k +0.0+0.0 5"},
		{codec.Stamp{Sec: 5, Nsec: 1}, "IAMAT k +0.0+0.0 5.0000000009", "AT Alford +0.000000001 k +0.0+0.0 5.0000000009"},
		// Odd spacing in, single spaces out; fields verbatim.
		{codec.Stamp{Sec: 100}, "IAMAT\t k \v+34.06893-118.445127\f 1.50 ", "AT Alford +98.500000000 k +34.06893-118.445127 1.50"},
	}
	for _, tc := range cases {
		n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: herd.NewCache(), Clock: fixedClock(tc.now)})
		got := n.IAMAT([]byte("prev;"), parse(t, tc.line))
		if string(got) != "prev;"+tc.want+"\n" {
			t.Errorf("IAMAT %q at %+v = %q, want %q", tc.line, tc.now, got, "prev;"+tc.want+"\n")
		}
	}
}

func TestStaleIAMAT(t *testing.T) {
	net := newFakeNet(t, config.Default(), kiwiReceived)
	net.nodes["Alford"].IAMAT(nil, parse(t, kiwiIAMAT))
	net.run(100, false)
	floods, logged := net.floods, len(net.log)
	// An older report at another node: the reply is Alford's line, byte for
	// byte, and nothing moves.
	for _, line := range []string{
		"IAMAT kiwi.cs.ucla.edu +1.000000-2.000000 1479413884.392014449",
		"IAMAT kiwi.cs.ucla.edu +1.000000-2.000000 1479413883",
		"IAMAT kiwi.cs.ucla.edu +1.000000-2.000000 0",
	} {
		for _, name := range []string{"Alford", "Ball"} {
			got := net.nodes[name].IAMAT([]byte("x"), parse(t, line))
			if string(got) != "x"+kiwiAT+"\n" {
				t.Errorf("%s: stale %q got %q, want the held line", name, line, got)
			}
		}
	}
	if len(net.queue) != 0 || net.floods != floods || len(net.log) != logged {
		t.Errorf("stale IAMAT flooded: queue %v, floods %d->%d", net.queue, floods, net.floods)
	}
	net.checkAll("kiwi.cs.ucla.edu", kiwiAT)
}

func TestUpdateReply(t *testing.T) {
	f := &countFlooder{}
	n := herd.NewNode(herd.NodeOptions{Name: "Ball", Cache: herd.NewCache(), Flooder: f})
	// Odd spacing in a peer's line is canonicalised when stored.
	got := n.Update(nil, parse(t, "AT  Alford\t+0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450 "), "Welsh")
	if string(got) != kiwiAT+"\n" || f.n != 1 {
		t.Fatalf("Update = %q (floods %d), want %q", got, f.n, kiwiAT+"\n")
	}
	got = n.Update([]byte("p"), parse(t, "AT Welsh +0.1 kiwi.cs.ucla.edu +1.0+1.0 1"), "Welsh")
	if string(got) != "p"+kiwiAT+"\n" || f.n != 1 {
		t.Errorf("stale Update = %q (floods %d), want the held line", got, f.n)
	}
	if n.Name() != "Ball" || n.Cache().Len() != 1 {
		t.Errorf("Name %q Len %d", n.Name(), n.Cache().Len())
	}
}

// recFlooder records the from of each Flood call.
type recFlooder struct{ from []string }

func (f *recFlooder) Flood(_ []byte, from string) { f.from = append(f.from, from) }

func serve(n *herd.Node, c *herd.Session, line string) (string, herd.Outcome, *herd.Entry) {
	var cmd codec.Command
	dst, out, e := n.Serve([]byte("prev|"), []byte(line), &cmd, c)
	s := string(dst)
	if !strings.HasPrefix(s, "prev|") {
		panic("Serve dropped dst's prefix: " + s)
	}
	return s[len("prev|"):], out, e
}

func TestServe(t *testing.T) {
	f := &recFlooder{}
	n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: herd.NewCache(), Flooder: f, Clock: fixedClock(kiwiReceived)})
	var client herd.Session

	t.Run("invalid", func(t *testing.T) {
		for _, line := range []string{
			"LLL", "", "   ", "  IAMAT kiwi.cs.ucla.edu +34.068930-118.445127",
			"iamat kiwi +1.0+1.0 1", "IAMAT kiwi 34.068930-118.445127 1.0",
			"WHATSAT kiwi 51 5", "WHATSAT kiwi 10 21", "PEER", "AT Alford 0.1 kiwi +1.0+1.0 1",
			"\xff\xfe",
		} {
			got, out, e := serve(n, &client, line)
			if got != "? "+line+"\n" || out != herd.Replied || e != nil {
				t.Errorf("Serve(%q) = %q, %v, %v; want %q", line, got, out, e, "? "+line+"\n")
			}
		}
		if n.Cache().Len() != 0 || len(f.from) != 0 {
			t.Errorf("invalid lines stored or flooded")
		}
	})

	t.Run("iamat", func(t *testing.T) {
		got, out, _ := serve(n, &client, kiwiIAMAT)
		if got != kiwiAT+"\n" || out != herd.Replied {
			t.Errorf("IAMAT = %q, %v", got, out)
		}
		if !slices.Equal(f.from, []string{""}) {
			t.Errorf("Flood froms %q, want [\"\"]", f.from)
		}
	})

	t.Run("whatsat-no-places", func(t *testing.T) {
		line := "WHATSAT kiwi.cs.ucla.edu 10 5"
		got, out, e := serve(n, &client, line)
		if got != "? "+line+"\n" || out != herd.Replied || e != nil {
			t.Errorf("WHATSAT without places = %q, %v", got, out)
		}
	})

	t.Run("peer-handshake", func(t *testing.T) {
		var c herd.Session
		var cmd codec.Command
		dst, out, _ := n.Serve([]byte("prev"), []byte("PEER Ball"), &cmd, &c)
		if string(dst) != "prev" || out != herd.HandOff || string(cmd.Origin) != "Ball" {
			t.Fatalf("PEER Ball = %q, %v; want HandOff", dst, out)
		}
		// The secret form is refused by a node without a secret.
		line := "PEER Ball 0123456789abcdef0123456789abcdef"
		if got, out, _ := serve(n, &c, line); got != "? "+line+"\n" || out != herd.Replied {
			t.Errorf("%s = %q, %v", line, got, out)
		}
		// A peer update applied by the links: stored, flooded but not back.
		n.Update(nil, parse(t, "AT Ball +0.5 kiwi.cs.ucla.edu +1.0+1.0 1479413885"), "Ball")
		if e := n.Lookup([]byte("kiwi.cs.ucla.edu")); e == nil || string(e.Line) != "AT Ball +0.5 kiwi.cs.ucla.edu +1.0+1.0 1479413885" {
			t.Errorf("peer AT not stored: %v", e)
		}
		if f.from[len(f.from)-1] != "Ball" {
			t.Errorf("peer AT flooded with from %q, want Ball", f.from[len(f.from)-1])
		}
	})

	t.Run("client-at", func(t *testing.T) {
		held := "AT Ball +0.5 kiwi.cs.ucla.edu +1.0+1.0 1479413885"
		got, out, _ := serve(n, &client, kiwiAT) // older than held
		if got != held+"\n" || out != herd.Replied {
			t.Errorf("client stale AT = %q, want the held line", got)
		}
		newer := "AT Hamilton -1.0 kiwi.cs.ucla.edu +2.0+2.0 1479413886"
		got, _, _ = serve(n, &client, "AT  Hamilton -1.0 kiwi.cs.ucla.edu +2.0+2.0 1479413886")
		if got != newer+"\n" {
			t.Errorf("client newer AT = %q, want %q", got, newer+"\n")
		}
		if f.from[len(f.from)-1] != "" {
			t.Errorf("client AT flooded with from %q, want \"\"", f.from[len(f.from)-1])
		}
	})

	n = withPlaces(n, &fakeProvider{body: "{}"}, 0, 1)

	t.Run("whatsat-unknown", func(t *testing.T) {
		line := "WHATSAT never-seen-client 10 5"
		got, out, e := serve(n, &client, line)
		if got != "? "+line+"\n" || out != herd.Replied || e != nil {
			t.Errorf("WHATSAT unknown = %q, %v, %v", got, out, e)
		}
	})

	t.Run("whatsat-known", func(t *testing.T) {
		var cmd codec.Command
		dst, out, e := n.Serve([]byte("prev"), []byte("WHATSAT kiwi.cs.ucla.edu 10 5"), &cmd, &client)
		if out != herd.NeedsPlaces || string(dst) != "prev" {
			t.Fatalf("WHATSAT known = %q, %v; want NeedsPlaces and dst untouched", dst, out)
		}
		if e == nil || !bytes.Equal(e.Line, n.Lookup([]byte("kiwi.cs.ucla.edu")).Line) {
			t.Errorf("entry %v, want the held one", e)
		}
		if cmd.Kind != codec.KindWHATSAT || cmd.RadiusKm != 10 || cmd.Bound != 5 {
			t.Errorf("cmd %+v", cmd)
		}
	})
}

func TestNewNodeNilFlooder(t *testing.T) {
	n := herd.NewNode(herd.NodeOptions{Name: "Solo", Cache: herd.NewCache(), Clock: fixedClock(kiwiReceived)})
	if got := n.IAMAT(nil, parse(t, kiwiIAMAT)); !strings.HasPrefix(string(got), "AT Solo +0.263873386 ") {
		t.Errorf("IAMAT = %q", got)
	}
	n.Update(nil, parse(t, "AT X +0.0 other +1.0+1.0 1"), "X")
	f := &countFlooder{}
	n = herd.NewNode(herd.NodeOptions{Name: "Solo", Cache: n.Cache(), Flooder: f})
	n.Update(nil, parse(t, "AT X +0.0 other +1.0+1.0 2"), "X")
	if f.n != 1 {
		t.Errorf("Flooder: %d floods, want 1", f.n)
	}
}

func TestNow(t *testing.T) {
	s := herd.Now()
	if s.Sec < 1_700_000_000 || s.Nsec < 0 || s.Nsec >= 1e9 {
		t.Errorf("Now() = %+v", s)
	}
}

// TestDigestFollowsStores: the node's running digest equals a walk of its
// cache after new clients, newer reports, stale ones and peer updates, and
// a node built over a loaded cache starts from it.
func TestDigestFollowsStores(t *testing.T) {
	walk := func(c *herd.Cache) (n, sum uint64) {
		c.Range(func(_ []byte, _ codec.Stamp, line []byte) bool {
			n++
			sum += herd.LineHash(line)
			return true
		})
		return n, sum
	}
	n := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: herd.NewCache(), Clock: fixedClock(kiwiReceived)})
	for i, line := range []string{
		"IAMAT a +1.0+1.0 10", "IAMAT b +1.0+1.0 10", "IAMAT a +2.0+2.0 11", "IAMAT a +3.0+3.0 9",
	} {
		n.IAMAT(nil, parse(t, line))
		if c, s := n.Digest(); true {
			if wc, ws := walk(n.Cache()); c != wc || s != ws {
				t.Fatalf("after line %d: digest (%d, %x), walk (%d, %x)", i, c, s, wc, ws)
			}
		}
	}
	n.Update(nil, parse(t, "AT Ball +0.1 b +5.0+5.0 12"), "Ball")
	n.Update(nil, parse(t, "AT Ball +0.1 c +5.0+5.0 12"), "Ball")
	c, s := n.Digest()
	if wc, ws := walk(n.Cache()); c != 3 || c != wc || s != ws {
		t.Fatalf("after updates: digest (%d, %x), walk (%d, %x)", c, s, wc, ws)
	}
	if c2, s2 := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: n.Cache()}).Digest(); c2 != c || s2 != s {
		t.Errorf("a node over a loaded cache starts at (%d, %x), want (%d, %x)", c2, s2, c, s)
	}
	// The bucket sums and the lists of clients by bucket follow too.
	sums := n.DigestSums(nil, 10)
	walked := make([]uint64, 1<<10)
	n.Cache().Range(func(id []byte, _ codec.Stamp, line []byte) bool {
		walked[herd.ClientHash(id)>>(64-10)] += herd.LineHash(line)
		return true
	})
	if !slices.Equal(sums, walked) {
		t.Error("bucket sums differ from a walk")
	}
	for _, bits := range []uint{10, 11, herd.DigestBits} {
		want := make([]bool, 1<<bits)
		for _, id := range []string{"a", "b"} {
			want[herd.ClientHash([]byte(id))>>(64-bits)] = true
		}
		var got []string
		n.RangeBuckets(bits, want, func(line []byte) bool { got = append(got, string(line)); return true })
		slices.Sort(got)
		if len(got) < 2 || !strings.Contains(strings.Join(got, "|"), " a ") || !strings.Contains(strings.Join(got, "|"), " b ") {
			t.Errorf("%d bits: RangeBuckets(a's and b's buckets) = %q", bits, got)
		}
	}
	if herd.LineHash([]byte("AT x")) == herd.LineHash([]byte("AT y")) || herd.LineHash(nil) == herd.LineHash([]byte{0}) {
		t.Error("LineHash collides on trivial inputs")
	}
}

// TestIAMATFarFuture: the origin refuses an IAMAT further ahead of its clock
// than MaxFuture (one absurd time would freeze the client's location for
// ever); the refusal keeps its reason, and peers' AT lines are never
// second-guessed.
func TestIAMATFarFuture(t *testing.T) {
	now := codec.Stamp{Sec: 1_800_000_000, Nsec: 500}
	n := herd.NewNode(herd.NodeOptions{Name: "Alford", Clock: fixedClock(now), MaxFuture: time.Hour})
	var cmd codec.Command
	var c herd.Session
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"IAMAT k +1.0+1.0 999999999999999999.0", false},
		{"IAMAT k +1.0+1.0 1800003600.000000501", false}, // one nanosecond past the bound
		{"IAMAT k +1.0+1.0 1800003600.0000005", true},    // exactly at the bound
		{"IAMAT k +1.0+1.0 1800000000", true},
	} {
		out, _, _ := n.Serve(nil, []byte(tc.line), &cmd, &c)
		refused := string(out) == "? "+tc.line+"\n"
		if refused == tc.ok || (refused && c.Reason != herd.ErrFuture) || (!refused && c.Reason != nil) {
			t.Errorf("%q: reply %q reason %v, want accepted=%v", tc.line, out, c.Reason, tc.ok)
		}
	}
	// A peer's update from the far future is stored: only the origin checks.
	far := "AT Welsh +0.000000000 far +1.0+1.0 999999999999999999.0"
	if out := n.Update(nil, parse(t, far), "Welsh"); string(out) != far+"\n" || n.Lookup([]byte("far")) == nil {
		t.Fatalf("a peer's far-future update must be stored: %q", out)
	}
	// The default bound is 24 hours.
	d := herd.NewNode(herd.NodeOptions{Name: "Ball", Clock: fixedClock(now)})
	c = herd.Session{}
	if out, _, _ := d.Serve(nil, []byte("IAMAT k +1.0+1.0 1800086401"), &cmd, &c); c.Reason != herd.ErrFuture {
		t.Errorf("25 hours ahead with the default bound: %q", out)
	}
	if out, _, _ := d.Serve(nil, []byte("IAMAT k +1.0+1.0 1800086399"), &cmd, &c); c.Reason != nil {
		t.Errorf("a day ahead less a second: %q", out)
	}
	if _, _, _ = d.Serve(nil, []byte("iamat"), &cmd, &c); !errors.Is(c.Reason, codec.ErrCommand) {
		t.Errorf("the parse error is kept as the reason: %v", c.Reason)
	}
}

// TestDigestExactUnderConcurrentStores: the cache reports the hash of the
// line each store replaced, read under the shard's lock, so stores racing
// on the same clients from many goroutines leave the running digest equal
// to a walk of the cache.
func TestDigestExactUnderConcurrentStores(t *testing.T) {
	n := herd.NewNode(herd.NodeOptions{Name: "Alford", Origins: []string{"Alford", "Ball"}})
	const workers, perWorker, clients = 4, 2000, 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var cmd codec.Command
			var dst []byte
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWorker {
				line := fmt.Sprintf("AT Ball +0.%d c%d +%d.0+1.0 %d.%09d", w+1, r.IntN(clients), i%7, 100+r.IntN(50), r.IntN(3))
				if err := codec.Parse([]byte(line), &cmd); err != nil {
					panic(err)
				}
				dst = n.Update(dst[:0], &cmd, "Ball")
			}
		})
	}
	wg.Wait()
	var wc, ws uint64
	n.Cache().Range(func(_ []byte, _ codec.Stamp, line []byte) bool {
		wc++
		ws += herd.LineHash(line)
		return true
	})
	if c, s := n.Digest(); c != wc || s != ws || wc != clients {
		t.Fatalf("digest (%d, %x), walk (%d, %x), want %d clients", c, s, wc, ws, clients)
	}
}

// holdFlooder records Holds calls.
type holdFlooder struct {
	countFlooder
	held []string
}

func (f *holdFlooder) Holds(line []byte, from string) {
	f.held = append(f.held, from+": "+string(line))
}

// TestHoldsReportsTheSameLine: a neighbour that sends the very line the
// node holds is reported (it needs no copy back); an older line, or one
// from a client, is not.
func TestHoldsReportsTheSameLine(t *testing.T) {
	f := &holdFlooder{}
	n := herd.NewNode(herd.NodeOptions{Name: "Alford", Flooder: f})
	const line = "AT Ball +0.1 c +5.0+5.0 12"
	n.Update(nil, parse(t, line), "Ball")
	n.Update(nil, parse(t, line), "Hamilton")
	n.Update(nil, parse(t, "AT Ball +0.1 c +5.0+5.0 11"), "Welsh")
	n.Update(nil, parse(t, line), "")
	if len(f.held) != 1 || f.held[0] != "Hamilton: "+line {
		t.Errorf("Holds calls %q, want Hamilton's only", f.held)
	}
}
