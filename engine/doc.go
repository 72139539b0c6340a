// Package engine puts a herd.Node on the network with a gnet v2 reactor: one
// epoll event loop per core, every client connection owned by one loop.
//
// The loop parses lines in place from gnet's buffer, answers IAMAT and AT
// synchronously (warming the batch's cache lookups first, herd.Node.Warm),
// and writes each batch of replies with one write, a raw write(2) when gnet
// holds nothing back for the connection (rawwrite.go). WHATSAT's
// backend call runs on a bounded worker pool and its reply returns through
// the connection's loop (Conn.Wake), so replies on a connection keep request
// order. Nothing that blocks runs on a loop: no backend call, no lock wait,
// no log write (logging goes through a bounded queue to its own goroutine).
//
// The engine is the reactor and nothing else: peer links are the peer
// package's, and running several nodes is package node's. A neighbour
// that links in on the client port (a node without a peer port) is
// recognised by its PEER line (herd.Node.Serve returns HandOff) and its
// connection handed, on a duplicate of the socket, to Config.HandOff.
//
// The server never falls over and never cuts a reply (limits.go, drain.go):
// client connections are capped under the fd limit (gnet gives up its
// listener on EMFILE), peer links do not count; idle, slow-line and
// write timeouts and the node-wide output bound are enforced from gnet's
// ticker through atomics the loops store once per read; and a connection
// that must go while it is owed replies, like every connection on Stop, is
// drained: no more lines read, every reply delivered whole, write side shut,
// closed once the kernel has handed the client everything, so never reset.
//
// Only this package and bench/echo (the benchmarks' ceiling) import gnet.
// Every goroutine the server starts goes through one helper that refuses
// once shutdown began, so Stop returns only when all of them have ended.
package engine
