package herd

import "github.com/herdnet/herd/codec"

// Outcome says what Serve did with a line.
type Outcome uint8

const (
	// Replied: the reply is appended to dst (for a peer's AT, nothing is).
	Replied Outcome = iota
	// NeedsPlaces: a WHATSAT about a known client; cmd and the returned
	// entry describe it and the caller runs Whatsat off the event loop.
	NeedsPlaces
)

// Conn is what Serve needs to know about a connection: whether it is a
// neighbour's link (set by the PEER handshake).
type Conn struct {
	// Peer is the neighbour's name once it sent "PEER name"; "" for clients.
	Peer string
	// NewPeer is set by Serve when this line was the handshake.
	NewPeer bool
	// Received is when the line's bytes arrived, the origin time of an
	// IAMAT's skew. An engine that reads many lines at once sets it once per
	// read; zero means "read the clock for each line".
	Received codec.Stamp
}

// Serve answers one line (as framed by codec.NextLine) for any engine, so
// that every I/O model shares one command logic. It parses into cmd, and
// appends the reply to dst: an AT line for IAMAT, "? line" for anything
// invalid (including a WHATSAT about an unknown client, or any WHATSAT when
// the node has no places backend), the handshake answer for PEER, the held
// line for a client's AT and nothing for a peer's. For a WHATSAT it can
// answer only off the loop it returns NeedsPlaces and the client's entry.
// Non-blocking; allocates only for a WHATSAT that needs the places backend
// (the copy of the client's entry it hands back).
func (n *Node) Serve(dst, line []byte, cmd *codec.Command, c *Conn) ([]byte, Outcome, *Entry) {
	c.NewPeer = false
	if err := codec.Parse(line, cmd); err != nil {
		return codec.AppendInvalid(dst, line), Replied, nil
	}
	switch cmd.Kind {
	case codec.KindIAMAT:
		now := c.Received
		if now == (codec.Stamp{}) {
			now = n.now()
		}
		return n.iamat(dst, cmd, now), Replied, nil
	case codec.KindAT:
		p := len(dst)
		dst = n.Update(dst, cmd, c.Peer)
		if c.Peer != "" {
			dst = dst[:p]
		}
		return dst, Replied, nil
	case codec.KindWHATSAT:
		if n.places != nil {
			if e := n.cache.Get(cmd.ClientID); e != nil {
				return dst, NeedsPlaces, e // a copy: the WHATSAT outlives this read
			}
		}
		return codec.AppendInvalid(dst, line), Replied, nil
	case codec.KindPeer:
		// Answer with our own name, so the dialer knows it reached the node
		// it meant to, on a connection a live loop serves.
		if c.Peer == "" {
			c.Peer, c.NewPeer = string(cmd.Origin), true
		}
		return codec.AppendPeer(dst, n.name), Replied, nil
	}
	return codec.AppendInvalid(dst, line), Replied, nil
}
