// Package engine puts a herd.Node on the network with a gnet v2 reactor: one
// epoll event loop per core, every client connection owned by one loop.
//
// The loop parses lines in place from gnet's buffer, answers IAMAT and AT
// synchronously, and writes each batch of replies with one write. WHATSAT's
// backend call runs on a bounded worker pool and its reply returns through
// the connection's loop (Conn.Wake), so replies on a connection keep request
// order. Nothing that blocks runs on a loop: no backend call, no lock wait,
// no log write (logging goes through a bounded queue to its own goroutine).
//
// Peer links are long-lived outbound TCP connections, one per neighbour, run
// by their own goroutines: a handshake naming this node, a full push of the
// cache (reconciliation), then a bounded queue of updates; reconnection with
// capped, jittered backoff. Inbound links arrive on the client port and are
// recognised by their handshake.
//
// Only this package imports gnet. Every goroutine it starts is tracked so that
// Stop returns only when all of them have ended.
package engine
