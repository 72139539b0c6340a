package herd

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/herdnet/herd/codec"
)

func TestWarmID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, id string }{
		{"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450", "kiwi.cs.ucla.edu"},
		{"WHATSAT kiwi.cs.ucla.edu 10 5", "kiwi.cs.ucla.edu"},
		{"AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450", "kiwi.cs.ucla.edu"},
		{"IAMAT  kiwi.cs.ucla.edu +34.068930-118.445127 1", ""}, // not canonical: Serve judges it
		{"IAMAT kiwi.cs.ucla.edu", ""},
		{"AT Alford +0.263873386", ""},
		{"AT Alford", ""},
		{"PEER Alford", ""},
		{"iamat kiwi +1+1 1", ""},
		{"", ""},
	} {
		if got := string(warmID([]byte(tc.line))); got != tc.id {
			t.Errorf("warmID(%q) = %q, want %q", tc.line, got, tc.id)
		}
	}
}

func warmLine(i int, sec int64) string {
	return "AT Alford +0.000000001 client-" + strconv.Itoa(i) + " +1.0-2.0 " + strconv.FormatInt(sec, 10)
}

func offerLine(t testing.TB, c *Cache, line string) {
	t.Helper()
	var cmd codec.Command
	if err := codec.Parse([]byte(line), &cmd); err != nil {
		t.Fatal(err)
	}
	c.OfferAppend(nil, cmd.ClientID, cmd.Stamp, []byte(line))
}

// Warm finds the records Serve's lookups will read: with a few clients
// spread over 64 shards each sits in its home slot, and warm touches each
// known client's record and nothing for unknown ones.
func TestWarmTouchesTheLookedUpRecords(t *testing.T) {
	t.Parallel()
	c := NewCache()
	var ids [][]byte
	for i := range 16 {
		offerLine(t, c, warmLine(i, 1))
		ids = append(ids, []byte("client-"+strconv.Itoa(i)))
	}
	if got := c.warm(ids); got != 16 {
		t.Errorf("warm touched %d records of 16 known clients", got)
	}
	if got := c.warm([][]byte{[]byte("nobody"), []byte("client-99")}); got != 0 {
		t.Errorf("warm touched %d records of unknown clients", got)
	}
}

// Node.Warm covers whole lines, at most warmBatch of them, and stops before
// a partial line.
func TestNodeWarmCoversWholeLines(t *testing.T) {
	t.Parallel()
	n := NewNode(NodeOptions{Name: "Alford"})
	line := "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450\n"
	if got := n.Cache().Warm([]byte(line + line + "IAMAT part")); got != 2*len(line)+len("IAMAT part") {
		t.Errorf("Warm on a small cache = %d, want all of the buffer", got)
	}
	n.cache.shards[0].count.Store(warmMinPerShard) // as if it were large
	for _, tc := range []struct {
		buf  string
		want int
	}{
		{"", 0},
		{"IAMAT kiwi", 0},
		{line, len(line)},
		{line + "WHATSAT kiwi.cs.ucla.edu 10 5\nIAMAT part", len(line) + len("WHATSAT kiwi.cs.ucla.edu 10 5\n")},
		{strings.Repeat(line, 40), warmBatch * len(line)},
		{strings.Repeat("junk\n", 40) + line, 40*len("junk\n") + len(line)}, // lines it ignores do not count
	} {
		if got := n.Cache().Warm([]byte(tc.buf)); got != tc.want {
			t.Errorf("Warm(%.40q...) = %d, want %d", tc.buf, got, tc.want)
		}
	}
}

// Warm reads the index and the arenas without a lock while writers grow
// the tables, add slabs and move records: it must never fault, and (with
// -race) never race.
func TestWarmDuringWrites(t *testing.T) {
	t.Parallel()
	c := NewCache()
	n := NewNode(NodeOptions{Name: "Alford", Cache: c})
	for i := range numShards * warmMinPerShard * 5 / 4 {
		offerLine(t, c, warmLine(i, 1))
	}
	if !c.large() {
		t.Fatalf("a cache of %d clients is not large", c.Len())
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 20_000 {
			line := warmLine(i%5000, int64(i+2))
			if i%2 == 0 {
				line = warmLine(200_000+i, 1) // a new client: tables grow, slabs are added
			} else if i%3 == 0 {
				line = strings.Replace(line, "Alford", "Alford-with-a-longer-name", 1) // moves the record
			}
			offerLine(t, c, line)
		}
	}()
	go func() {
		defer wg.Done()
		var buf bytes.Buffer
		for i := range 500 {
			buf.Reset()
			for j := range 32 {
				id := (i*32 + j) % 5000
				if j%2 == 0 {
					id = 200_000 + (i*64+j)%20_000
				}
				buf.WriteString("IAMAT client-" + strconv.Itoa(id) + " +1.0-2.0 1\n")
			}
			n.Cache().Warm(buf.Bytes())
		}
	}()
	wg.Wait()
}
