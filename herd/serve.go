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
	// entry describe it and the caller runs WHATSAT off the event loop.
	NeedsPlaces
	// HandOff: the line is a neighbour's PEER handshake (cmd holds it).
	// Nothing is appended; the caller hands the connection, this line
	// first, to the peer links, which answer it, and stops serving it.
	HandOff
)

// Session is one client connection's state as Serve needs it: when its
// bytes arrived, and why its last line was refused. The engine keeps one
// per connection.
type Session struct {
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
	// ErrPeersOnly: an AT or PEER line on the client port of a herd with a
	// secret or a peer port (or a PEER handshake of the wrong form).
	ErrPeersOnly = errors.New("herd: AT and PEER lines are for authenticated peer links only")
	// ErrUnknownOrigin: an AT line whose origin is no node of the herd.
	ErrUnknownOrigin = errors.New("herd: AT origin is no node of the herd")
)

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
func (n *Node) Serve(dst, line []byte, cmd *codec.Command, c *Session) ([]byte, Outcome, *Entry) {
	c.Reason = nil
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
		if n.secret || n.peerPort {
			c.Reason = ErrPeersOnly
			return codec.AppendInvalid(dst, line), Replied, nil
		}
		if !n.knownOrigin(cmd.Origin) {
			c.Reason = ErrUnknownOrigin
			return codec.AppendInvalid(dst, line), Replied, nil
		}
		return n.Update(dst, cmd, ""), Replied, nil
	case codec.KindWHATSAT:
		switch {
		case n.places == nil:
			c.Reason = ErrNoPlaces
		default:
			if e := n.cache.Get(cmd.ClientID); e != nil {
				return dst, NeedsPlaces, e // a copy: the WHATSAT outlives this read
			}
			c.Reason = ErrUnknownClient
		}
		return codec.AppendInvalid(dst, line), Replied, nil
	case codec.KindPeer:
		if n.peerPort || n.secret != (cmd.Nonce != nil) {
			c.Reason = ErrPeersOnly
			return codec.AppendInvalid(dst, line), Replied, nil
		}
		return dst, HandOff, nil
	}
	c.Reason = codec.ErrCommand
	return codec.AppendInvalid(dst, line), Replied, nil
}
