package snapshot

import (
	"iter"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// This file is the only one that knows the cache's API: iteration through
// Cache.Range, and restoring through Cache.OfferAppend, as a peer update is.

// Lines yields every AT line c holds (without "\n", exactly as stored), one
// per client, through Cache.Range: shard by shard, each shard's lines copied
// out at once (holding back that shard's writers for the copy only, never
// readers), then yielded with no lock held. A yielded line is valid only
// until the next one is asked for. Lines is what a Store writes.
func Lines(c *herd.Cache) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		c.Range(func(_ []byte, _ codec.Stamp, line []byte) bool { return yield(line) })
	}
}

// offer returns the apply function of Read that offers each entry to c, as
// a peer update is offered: it is stored if newer than what c holds. The
// cache copies the line into its arena; the function reuses one buffer for
// the held line of entries that are not stored, so it allocates nothing per
// entry. It is called on one goroutine.
func offer(c *herd.Cache) func(*codec.Command, []byte) {
	var held []byte
	return func(cmd *codec.Command, line []byte) {
		held, _ = c.OfferAppend(held[:0], cmd.ClientID, cmd.Stamp, line)
	}
}
