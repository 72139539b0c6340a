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
	// HandOff: the line is a neighbour's PEER handshake (cmd holds it).
	// Nothing is appended; the caller hands the connection, this line
	// first, to the peer links, which answer it, and stops serving it.
	HandOff
)

// Conn is what Serve needs to know about a client connection.
type Conn struct {
	// Received is when the line's bytes arrived, the origin time of an
	// IAMAT's skew. An engine that reads many lines at once sets it once per
	// read; zero means "read the clock for each line".
	Received codec.Stamp
}

// Serve answers one line (as framed by codec.NextLine) for any engine, so
// that every I/O model shares one command logic. It parses into cmd, and
// appends the reply to dst: an AT line for IAMAT, "? line" for anything
// invalid (including a WHATSAT about an unknown client, or any WHATSAT when
// the node has no places backend), and the held line for a client's AT.
// A client's AT is refused ("? line") when the herd has a secret or a peer
// port, or when its origin is no node of the herd. A PEER handshake returns
// HandOff, unless the herd has a peer port, or the handshake's form does not
// match the secret setting (a nonce exactly when there is a secret): then it
// is "? line". For a WHATSAT it can answer only off the loop it returns
// NeedsPlaces and the client's entry. Non-blocking; allocates only for a
// WHATSAT that needs the places backend (the copy of the client's entry it
// hands back).
func (n *Node) Serve(dst, line []byte, cmd *codec.Command, c *Conn) ([]byte, Outcome, *Entry) {
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
		if n.secret || n.peerPort || !n.KnownOrigin(cmd.Origin) {
			break
		}
		return n.Update(dst, cmd, ""), Replied, nil
	case codec.KindWHATSAT:
		if n.places != nil {
			if e := n.cache.Get(cmd.ClientID); e != nil {
				return dst, NeedsPlaces, e // a copy: the WHATSAT outlives this read
			}
		}
		return codec.AppendInvalid(dst, line), Replied, nil
	case codec.KindPeer:
		if n.peerPort || n.secret != (cmd.Nonce != nil) {
			break
		}
		return dst, HandOff, nil
	}
	return codec.AppendInvalid(dst, line), Replied, nil
}
