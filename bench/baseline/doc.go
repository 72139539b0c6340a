// Package baseline is the goroutine-per-connection herd node the benchmarks
// compare the gnet engine with. Only the I/O model differs: it frames lines
// with the same codec.NextLine rule, answers them with the same
// herd.Node.Serve logic and floods through the same peer.Links. Each
// connection gets one goroutine with a bufio.Reader and a bufio.Writer; a
// WHATSAT blocks that goroutine for the Places call, so replies stay in order
// without any queue, and replies are flushed once no more input is buffered,
// so pipelined requests are answered in batches, as the gnet engine does.
// It imports neither gnet nor the engine; cmd/herd-bench runs whole herds of
// baseline nodes through package node.
package baseline
