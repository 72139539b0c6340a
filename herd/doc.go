// Package herd is the domain of a herd node, with no sockets in it.
//
// Cache holds, per client, the newest AT line the node knows ("newer wins",
// equal times broken by comparing lines as bytes) in pointer-free per-shard
// arenas; reads are lock-free (seqlocked records) and storing a newer line
// allocates nothing. Warm touches, for a batch of raw lines, the memory
// their lookups will read, all at once, so that a pipelined read about many
// clients waits on memory once rather than once per line. Node answers IAMAT,
// applies AT updates from neighbours and clients and decides what to flood,
// through the Flooder interface the peer links implement; it refuses AT
// lines whose origin is no node of the herd, and, with a herd secret or a
// peer port, AT and PEER lines from clients. It keeps a running digest of
// its cache (count and sum of LineHash, the replaced line's hash reported by
// the cache's store) that peer links compare with their neighbours'.
// Node.WHATSAT composes WHATSAT answers from a places.Provider.
//
// Everything here is tested with in-memory fakes; the engine package puts it
// on the network.
package herd
