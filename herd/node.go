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

// Holder is what a Flooder may also implement to learn that the neighbour
// named from sent the very line the node holds: that neighbour has it, so
// an update of that client waiting to be sent to it need not go. Called
// like Flood (non-blocking, line valid only during the call).
type Holder interface {
	Holds(line []byte, from string)
}

// Node is one herd member's command logic: it answers IAMAT, applies AT
// updates, and decides what to flood. It holds no sockets. Its methods are
// safe for concurrent use; the ones documented as non-blocking may be called
// on an event loop.
type Node struct {
	name  string
	cache *Cache
	flood Flooder
	holds Holder // flood's, if it implements it
	now   func() codec.Stamp

	places        places.Provider
	placesTimeout time.Duration
	maxInFlight   int

	origins   map[string]bool // nil: any origin
	secret    bool
	peerPort  bool
	digest    digest
	maxFuture codec.Stamp // how far ahead of the clock an IAMAT may be
}

// NodeOptions is a node's whole configuration, taken once by NewNode.
type NodeOptions struct {
	// Name is the node's name, the origin field of the AT lines it writes.
	Name string
	// Cache keeps the node's view of every client; nil: a new empty cache.
	Cache *Cache
	// Flooder carries stored updates to the neighbours; nil: a node
	// without neighbours.
	Flooder Flooder
	// Clock is the node's only clock: the receive time of IAMATs, whatever
	// the I/O model. nil: Now.
	Clock func() codec.Stamp
	// Places answers WHATSAT; nil: the node answers every WHATSAT with
	// "? line".
	Places places.Provider
	// PlacesTimeout is the deadline of one backend call.
	PlacesTimeout time.Duration
	// MaxInFlight bounds the backend calls running at once.
	MaxInFlight int

	// Origins are the names of the herd's nodes: an AT line whose origin is
	// none of them is refused. Empty: any origin.
	Origins []string
	// Secret says the herd has a secret: client connections may not send
	// AT lines, and a PEER handshake must carry a nonce (the peer links check
	// the rest; the node never sees the secret).
	Secret bool
	// PeerPort says neighbours link on a port of their own: the client port
	// refuses AT and PEER lines whatever the secret.
	PeerPort bool
	// MaxFuture is how far ahead of the node's clock an IAMAT's time may
	// be; the node refuses a later one ("? line"), so that one absurd
	// timestamp cannot freeze a client's location for ever. Updates from
	// peers (AT lines) are never checked.
	MaxFuture time.Duration
}

// DefaultNodeOptions holds the defaults NewNode gives the settings opts
// leaves at zero: PlacesTimeout, MaxInFlight and MaxFuture.
func DefaultNodeOptions() NodeOptions {
	return NodeOptions{PlacesTimeout: places.DefaultConfig().Timeout, MaxInFlight: 64, MaxFuture: 24 * time.Hour}
}

// NewNode returns the node that opts describe.
func NewNode(opts NodeOptions) *Node {
	n := &Node{
		name: opts.Name, cache: opts.Cache, flood: opts.Flooder, now: opts.Clock,
		places: opts.Places, placesTimeout: opts.PlacesTimeout, maxInFlight: opts.MaxInFlight,
		secret: opts.Secret, peerPort: opts.PeerPort,
	}
	if len(opts.Origins) > 0 {
		n.origins = make(map[string]bool, len(opts.Origins))
		for _, o := range opts.Origins {
			n.origins[o] = true
		}
	}
	if n.cache == nil {
		n.cache = NewCache()
	}
	n.digest.init()
	n.cache.Range(func(id []byte, _ codec.Stamp, line []byte) bool { // a cache loaded before the node
		n.digest.replace(id, 0, false, LineHash(line))
		return true
	})
	n.holds, _ = n.flood.(Holder)
	if n.flood == nil {
		n.flood = noFlood{}
	}
	if n.now == nil {
		n.now = Now
	}
	d := DefaultNodeOptions()
	if n.placesTimeout <= 0 {
		n.placesTimeout = d.PlacesTimeout
	}
	if n.maxInFlight <= 0 {
		n.maxInFlight = d.MaxInFlight
	}
	if opts.MaxFuture <= 0 {
		opts.MaxFuture = d.MaxFuture
	}
	n.maxFuture = codec.Stamp{Sec: int64(opts.MaxFuture / time.Second), Nsec: int32(opts.MaxFuture % time.Second)}
	return n
}

// Now returns the current time as a Stamp.
func Now() codec.Stamp {
	t := time.Now()
	return codec.Stamp{Sec: t.Unix(), Nsec: int32(t.Nanosecond())}
}

// Clock returns the node's clock. An engine that stamps a whole read's
// lines at once reads it once per read.
func (n *Node) Clock() codec.Stamp { return n.now() }

type noFlood struct{}

func (noFlood) Flood([]byte, string) {}

// Name is the node's name, the origin field of the AT lines it writes.
func (n *Node) Name() string { return n.name }

// Cache returns the node's view of every client.
func (n *Node) Cache() *Cache { return n.cache }

// IAMAT answers a parsed IAMAT: it appends the reply line (with "\n") to dst.
// A newer report is stored and flooded to every neighbour and its AT line is
// the reply; a report not newer than the one held gets the held line, byte
// for byte, and goes nowhere. Non-blocking; does not allocate (beyond
// growing dst).
func (n *Node) IAMAT(dst []byte, cmd *codec.Command) []byte {
	return n.iamat(dst, cmd, n.now())
}

// tooFar reports whether an IAMAT stamped t, received at now, lies further
// ahead of the clock than the node accepts.
func (n *Node) tooFar(t, now codec.Stamp) bool {
	limit := codec.Stamp{Sec: now.Sec + n.maxFuture.Sec, Nsec: now.Nsec + n.maxFuture.Nsec}
	if limit.Nsec >= 1e9 {
		limit.Sec, limit.Nsec = limit.Sec+1, limit.Nsec-1e9
	}
	return t.Compare(limit) > 0
}

func (n *Node) iamat(dst []byte, cmd *codec.Command, received codec.Stamp) []byte {
	p := len(dst)
	dst = codec.AppendAT(dst, n.name, received, cmd)
	return n.offer(dst, p, cmd, "")
}

// offer offers the AT line dst[p:] to the cache, accounts for it in the
// digest and floods it if stored; otherwise it puts the held line in its
// place. It appends "\n".
func (n *Node) offer(dst []byte, p int, cmd *codec.Command, from string) []byte {
	q := len(dst)
	dst, stored, old, replaced := n.cache.offerAppend(dst, cmd.ClientID, cmd.Stamp, dst[p:q])
	if stored {
		n.digest.replace(cmd.ClientID, old, replaced, LineHash(dst[p:q]))
		n.flood.Flood(dst[p:q], from)
	} else {
		if from != "" && n.holds != nil && string(dst[p:q]) == string(dst[q:]) {
			n.holds.Holds(dst[q:], from) // the neighbour has what we hold
		}
		dst = append(dst[:p], dst[q:]...) // the held line, appended after ours
	}
	return append(dst, '\n')
}

// knownOrigin reports whether an AT line from origin may be stored: origin
// is a node of the herd (any origin when the node was given none).
func (n *Node) knownOrigin(origin []byte) bool {
	return n.origins == nil || n.origins[string(origin)]
}

// Update applies a parsed AT line that arrived from the neighbour named from
// (or from a client, with from ""). A newer update is stored and flooded to
// every neighbour but from. It appends the line held afterwards (with "\n")
// to dst, which the engine sends back to clients and drops for peers. An
// update whose origin is no node of the herd changes nothing: "? " and its
// canonical line are appended. Non-blocking; does not allocate (beyond
// growing dst).
func (n *Node) Update(dst []byte, cmd *codec.Command, from string) []byte {
	p := len(dst)
	if !n.knownOrigin(cmd.Origin) {
		dst = codec.AppendUpdate(append(dst, "? "...), cmd)
		return append(dst, '\n')
	}
	dst = codec.AppendUpdate(dst, cmd)
	return n.offer(dst, p, cmd, from)
}

// Lookup returns a copy of the entry held for clientID, or nil.
// Non-blocking; allocates the copy.
func (n *Node) Lookup(clientID []byte) *Entry { return n.cache.Get(clientID) }
