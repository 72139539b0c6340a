package herd

import (
	"errors"

	"github.com/herdnet/herd/codec"
)

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
	// Reason is set by Serve when it answered "? line": why the line was
	// refused (a codec parse error, ErrUnknownClient, ErrFuture, ...), for
	// the engine's debug log. nil after a line that was accepted.
	Reason error
}

// Why Serve refused a line that parsed.
var (
	// ErrFuture: an IAMAT further ahead of the node's clock than MaxFuture.
	ErrFuture = errors.New("herd: IAMAT time too far in the future")
	// ErrUnknownClient: a WHATSAT about a client the node does not know.
	ErrUnknownClient = errors.New("herd: WHATSAT about an unknown client")
	// ErrNoPlaces: a WHATSAT on a node without a places backend.
	ErrNoPlaces = errors.New("herd: no places backend")
)

// Serve answers one line (as framed by codec.NextLine) for any engine, so
// that every I/O model shares one command logic. It parses into cmd, and
// appends the reply to dst: an AT line for IAMAT, "? line" for anything
// invalid (including a WHATSAT about an unknown client, or any WHATSAT when
// the node has no places backend), the handshake answer for PEER, the held
// line for a client's AT and nothing for a peer's. For a WHATSAT it can
// answer only off the loop it returns NeedsPlaces and the client's entry.
// Non-blocking; allocates only to store a newer location.
func (n *Node) Serve(dst, line []byte, cmd *codec.Command, c *Conn) ([]byte, Outcome, *Entry) {
	c.NewPeer, c.Reason = false, nil
	if err := codec.Parse(line, cmd); err != nil {
		c.Reason = err
		return codec.AppendInvalid(dst, line), Replied, nil
	}
	switch cmd.Kind {
	case codec.KindIAMAT:
		now := c.Received
		if now == (codec.Stamp{}) {
			now = n.now()
		}
		if n.tooFar(cmd.Stamp, now) {
			c.Reason = ErrFuture
			return codec.AppendInvalid(dst, line), Replied, nil
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
		e := n.cache.Get(cmd.ClientID)
		switch {
		case e == nil:
			c.Reason = ErrUnknownClient
		case n.places == nil:
			c.Reason = ErrNoPlaces
		default:
			return dst, NeedsPlaces, e
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
	c.Reason = codec.ErrCommand
	return codec.AppendInvalid(dst, line), Replied, nil
}
