// Package peer links a node with its neighbours. Each neighbour gets one
// outbound TCP connection run by its own goroutines (a node has a handful of
// links, so goroutines, not reactor code): a "PEER name" handshake both ways,
// a full push of the cache when the link comes up (reconciliation), then a
// bounded queue of updates, where an update that a newer one for the same
// client replaced is skipped. A broken link is redialled with capped,
// jittered backoff. Links implements herd.Flooder, so both I/O models (the
// gnet engine and the goroutine baseline of bench) flood identically.
//
// Inbound links arrive on the node's client port and are recognised there
// by their handshake.
package peer
