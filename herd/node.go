package herd

import (
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/places"
)

// Flooder carries stored updates to a node's neighbours. The engine
// implements it with peer links; tests use in-memory fakes. Flood is called
// on the goroutine that handled the update (an event loop) with the AT line
// just stored (without "\n"): it must not block, must not send the line to
// the neighbour named from, and must copy what it keeps, because line is
// valid only during the call (it is the reply buffer; the cache holds its
// own copy in its arena).
type Flooder interface {
	Flood(line []byte, from string)
}

// Node is one herd member's command logic: it answers IAMAT, applies AT
// updates, and decides what to flood. It holds no sockets. Its methods are
// safe for concurrent use; the ones documented as non-blocking may be called
// on an event loop.
type Node struct {
	name  string
	cache *Cache
	flood Flooder
	now   func() codec.Stamp

	places        places.Provider
	placesTimeout time.Duration
	maxInFlight   int
}

// NewNode returns a node named name that keeps its view in cache and floods
// through f (nil: a node without neighbours).
func NewNode(name string, cache *Cache, f Flooder) *Node {
	if f == nil {
		f = noFlood{}
	}
	return &Node{name: name, cache: cache, flood: f, now: Now}
}

// Now returns the current time as a Stamp.
func Now() codec.Stamp {
	t := time.Now()
	return codec.Stamp{Sec: t.Unix(), Nsec: int32(t.Nanosecond())}
}

type noFlood struct{}

func (noFlood) Flood([]byte, string) {}

// Name is the node's name, the origin field of the AT lines it writes.
func (n *Node) Name() string { return n.name }

// Cache returns the node's view of every client.
func (n *Node) Cache() *Cache { return n.cache }

// SetClock replaces the node's clock (tests). Call it before serving.
func (n *Node) SetClock(now func() codec.Stamp) { n.now = now }

// SetFlooder replaces the node's flooder. Call it before serving.
func (n *Node) SetFlooder(f Flooder) { n.flood = f }

// IAMAT answers a parsed IAMAT: it appends the reply line (with "\n") to dst.
// A newer report is stored and flooded to every neighbour and its AT line is
// the reply; a report not newer than the one held gets the held line, byte
// for byte, and goes nowhere. Non-blocking; does not allocate (beyond
// growing dst).
func (n *Node) IAMAT(dst []byte, cmd *codec.Command) []byte {
	return n.iamat(dst, cmd, n.now())
}

func (n *Node) iamat(dst []byte, cmd *codec.Command, received codec.Stamp) []byte {
	p := len(dst)
	dst = codec.AppendAT(dst, n.name, received, cmd)
	return n.offer(dst, p, cmd, "")
}

// offer offers the AT line dst[p:] to the cache and floods it if stored;
// otherwise it puts the held line in its place. It appends "\n".
func (n *Node) offer(dst []byte, p int, cmd *codec.Command, from string) []byte {
	q := len(dst)
	dst, stored := n.cache.OfferAppend(dst, cmd.ClientID, cmd.Stamp, dst[p:q])
	if stored {
		n.flood.Flood(dst[p:q], from)
	} else {
		dst = append(dst[:p], dst[q:]...) // the held line, appended after ours
	}
	return append(dst, '\n')
}

// Update applies a parsed AT line that arrived from the neighbour named from
// (or from a client, with from ""). A newer update is stored and flooded to
// every neighbour but from. It appends the line held afterwards (with "\n")
// to dst, which the engine sends back to clients and drops for peers.
// Non-blocking; does not allocate (beyond growing dst).
func (n *Node) Update(dst []byte, cmd *codec.Command, from string) []byte {
	p := len(dst)
	dst = codec.AppendUpdate(dst, cmd)
	return n.offer(dst, p, cmd, from)
}

// Lookup returns a copy of the entry held for clientID, or nil.
// Non-blocking; allocates the copy.
func (n *Node) Lookup(clientID []byte) *Entry { return n.cache.Get(clientID) }
