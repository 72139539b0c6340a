package herd

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/herdnet/herd/codec"
)

// attackLargeCache returns a cache with enough clients ("fill-N") that Warm
// is active, filled the way a node fills it.
func attackLargeCache(t testing.TB) *Cache {
	t.Helper()
	c := NewCache()
	var cmd codec.Command
	var line []byte
	for i := 0; !c.large(); i++ {
		if i > numShards*warmMinPerShard*2 {
			t.Fatal("the cache never became large")
		}
		line = fmt.Appendf(line[:0], "AT Alford +0.000000001 fill-%d +1.0-2.0 100", i)
		if err := codec.Parse(line, &cmd); err != nil {
			t.Fatal(err)
		}
		c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, line)
	}
	return c
}

// wantWarmBytes is what Cache.Warm must return for a large cache: the
// end of the 32nd recognised line, or of the last complete line.
func wantWarmBytes(buf []byte) int {
	used, k := 0, 0
	for k < warmBatch {
		i := bytes.IndexByte(buf[used:], '\n')
		if i < 0 {
			break
		}
		if warmID(buf[used:used+i]) != nil {
			k++
		}
		used += i + 1
	}
	return used
}

func checkWarm(t *testing.T, c *Cache, buf []byte) {
	t.Helper()
	got := c.Warm(buf)
	if want := wantWarmBytes(buf); got != want {
		t.Fatalf("Warm(%.60q... %d bytes) = %d, want %d", buf, len(buf), got, want)
	}
	if got < 0 || got > len(buf) || (got > 0 && buf[got-1] != '\n') {
		t.Fatalf("Warm(%.60q...) = %d: not a whole number of lines", buf, got)
	}
}

// TestAttackWarmOddInputs: Warm on a large cache with odd raw input never
// panics and always returns whole lines, never past a partial line.
func TestAttackWarmOddInputs(t *testing.T) {
	c := NewCache()
	for i := range 64 {
		offerLine(t, c, warmLine(i, 1))
	}
	c.shards[0].count.Store(warmMinPerShard) // as if it were large
	long := strings.Repeat("x", codec.DefaultMaxLine)
	odd := []string{
		"", "\n", "\r\n", "\r", "   \n", " \t \r\n", "IAMAT\n", "IAMAT \n", "IAMAT  \n", "IAMAT x\n", "IAMAT x \n",
		"WHATSAT \n", "WHATSAT client-1 \n", "AT \n", "AT a \n", "AT a b \n", "AT a b c\n", "AT a b client-1 \n", "AT  \n",
		"IAMAT \x00 +1.0+1.0 1\n", "IAMAT \xff\xfe +1.0+1.0 1\n", "IAMAT client-1\x00 +1.0+1.0 1\n",
		"IAMAT " + long + " +1.0+1.0 1\n", "IAMAT client-2 " + long + "\n", long + "\n", long + "x\n", long + long,
		strings.Repeat("\n", 64<<10), strings.Repeat("\r\n", 32<<10), strings.Repeat(" ", 64<<10),
		strings.Repeat("IAMAT client-3 +1.0+1.0 1\n", 100), strings.Repeat("IAMAT client-3 +1.0+1.0 1\n", 31) + "IAMAT client-4",
		strings.Repeat("WHATSAT client-5 10 5\n\n", 40), strings.Repeat("AT Alford +0.1 client-6 +1.0+1.0 1\n", 33),
	}
	for _, s := range odd {
		checkWarm(t, c, []byte(s))
		checkWarm(t, c, []byte(s+"IAMAT client-7 +1.0+1.0 1\nIAMAT part"))
		checkWarm(t, c, []byte("IAMAT client-7 +1.0+1.0 1\n"+s))
	}
	// Deterministic random buffers of bytes that matter to Warm.
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"IAMAT ", "WHATSAT ", "AT ", " ", "\n", "\r", "\x00", "\xff", "client-1", "client-9", "Alford", "+0.1", "x"}
	var b []byte
	for range 3000 {
		b = b[:0]
		for range rng.IntN(80) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		checkWarm(t, c, b)
	}
}

// TestAttackWarmRacesWriters: a large cache, Warm on the very ids a writer
// is moving between record sizes, adding (index growth, new slabs) and
// rewriting in place. Run with -race: no report, no fault.
func TestAttackWarmRacesWriters(t *testing.T) {
	c := attackLargeCache(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		var cmd codec.Command
		for i := range 20_000 {
			id := "hot-" + strconv.Itoa(i%64)
			name := "Alford"
			switch i % 4 {
			case 1:
				name = strings.Repeat("A", 8+i%200) // another record size
			case 3:
				id = "new-" + strconv.Itoa(i) // a new client
			}
			line := fmt.Appendf(nil, "AT %s +0.000000001 %s +1.0-2.0 %d", name, id, 200+i)
			if err := codec.Parse(line, &cmd); err != nil {
				panic(err)
			}
			c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, line)
		}
	})
	wg.Go(func() {
		var buf bytes.Buffer
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			buf.Reset()
			for j := range 32 {
				switch j % 3 {
				case 0:
					fmt.Fprintf(&buf, "IAMAT hot-%d +1.0+1.0 1\n", j)
				case 1:
					fmt.Fprintf(&buf, "WHATSAT new-%d 10 5\n", (i*32+j)%20_000)
				default:
					fmt.Fprintf(&buf, "AT Alford +0.1 fill-%d +1.0+1.0 1\n", i*7+j)
				}
			}
			if got := c.Warm(buf.Bytes()); got != buf.Len() {
				panic(fmt.Sprintf("Warm = %d of %d", got, buf.Len()))
			}
		}
	})
	wg.Wait()
}

// serveLikeEngine answers the lines of in as the engine's serve loop does
// (NextLine framing, max_line, Warm ahead of the lines when warm is set),
// and returns the concatenated replies.
func serveLikeEngine(n *Node, in []byte, warm bool) []byte {
	const maxLine = 256
	var out []byte
	var cmd codec.Command
	sess := Session{Received: codec.Stamp{Sec: 1000, Nsec: 5}}
	used, warmed := 0, 0
	for used < len(in) {
		if warm && used >= warmed {
			warmed = used + n.Cache().Warm(in[used:])
		}
		line, k, err := codec.NextLine(in[used:], maxLine)
		if err == codec.ErrNeedMore {
			break
		}
		if err == codec.ErrLineTooLong {
			head := in[used:]
			out = codec.AppendInvalid(out, head[:min(len(head), maxLine)])
			break
		}
		used += k
		out, _, _ = n.Serve(out, line, &cmd, &sess)
	}
	return out
}

// TestAttackWarmDifferential: the same input into two nodes with the same
// (large) cache content and clock, one served with Warm ahead of its lines
// (as the engine does) and one without: the replies and the caches must be
// byte for byte the same.
func TestAttackWarmDifferential(t *testing.T) {
	ca, cb := attackLargeCache(t), attackLargeCache(t)
	clock := func() codec.Stamp { return codec.Stamp{Sec: 1000, Nsec: 5} }
	na := NewNode(NodeOptions{Name: "Alford", Cache: ca, Clock: clock})
	nb := NewNode(NodeOptions{Name: "Alford", Cache: cb, Clock: clock})
	if !ca.large() || na.Cache().Warm([]byte("IAMAT a +1.0+1.0 1\nIAMAT b +1.0+1.0 1\nx")) != 38 {
		t.Fatal("Warm is not active on the large cache")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	templates := []string{
		"IAMAT fill-%d +1.0-2.0 %d", "IAMAT fill-%d +3.5-4.25 %d.5", "IAMAT fill-%d +1.0-2.0 50",
		"WHATSAT fill-%d 10 %d", "AT Alford +0.1 fill-%d +1.0-2.0 %d", "AT Ball -0.5 fill-%d +9.0+9.0 %d",
		"IAMAT  fill-%d +1.0-2.0 %d", "IAMAT fill-%d\t+1.0-2.0 %d", "IAMAT fill-%d +1.0-2.0 %d\r",
		"IAMAT new\x00%d\xff +1.0-2.0 %d", "", "\r", "   ", "IAMAT fill-%d", "AT x y fill-%d", "junk %d %d",
	}
	var in []byte
	for round := range 20 {
		in = in[:0]
		for range 200 {
			tpl := templates[rng.IntN(len(templates))]
			id, tm := rng.IntN(2000), 90+rng.IntN(40)
			switch strings.Count(tpl, "%d") {
			case 0:
				in = append(in, tpl...)
			case 1:
				in = fmt.Appendf(in, tpl, id)
			default:
				in = fmt.Appendf(in, tpl, id, tm)
			}
			in = append(in, '\n')
		}
		if round%5 == 4 {
			in = append(in, strings.Repeat("IAMAT fill-1 +1.0-2.0 1 ", 20)...) // over max_line
		}
		ra, rb := serveLikeEngine(na, in, true), serveLikeEngine(nb, in, false)
		if !bytes.Equal(ra, rb) {
			t.Fatalf("round %d: replies differ with Warm active:\n%q\nvs\n%q", round, ra, rb)
		}
	}
	for i := range 2000 {
		id := []byte("fill-" + strconv.Itoa(i))
		ea, eb := na.Lookup(id), nb.Lookup(id)
		if (ea == nil) != (eb == nil) || (ea != nil && !bytes.Equal(ea.Line, eb.Line)) {
			t.Fatalf("caches differ for %s: %v vs %v", id, ea, eb)
		}
	}
}
