// Package peer links a node with its neighbours. Each neighbour gets one
// outbound connection, which carries this node's updates to it, run by its
// own goroutines (a node has a handful of links, so goroutines, not reactor
// code): a handshake that, with a herd secret, is an HMAC challenge-response
// over fresh nonces from both sides; a digest sync that sends only what the
// neighbour lacks; then a pending set of clients (pending.go), bounded by
// the number of clients, never by the update rate: the link sends each
// client's newest line read from the cache, so a neighbour slower than the
// updates gets fewer, newer lines and nothing is dropped; and a sync every
// sync interval. A broken link is
// redialled with capped, jittered backoff, at once when the neighbour links
// back in (it restarted). Links implements herd.Flooder, so both I/O models
// (the gnet engine and the goroutine baseline of bench) flood identically.
//
// Inbound links arrive on the node's peer port (Listen; mutual TLS when
// configured), or on the client port, whose engine recognises the PEER
// handshake and hands the connection over (Accept).
package peer
