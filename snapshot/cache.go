package snapshot

import (
	"iter"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// This file is the only one that knows the cache's API: iteration through
// Cache.Range, and restoring through Cache.Offer, as a peer update is.

// Lines yields every AT line c holds (without "\n", exactly as stored), one
// per client, through Cache.Range: lock-free, and each client's entry as it
// is when visited. Lines is what a Store writes.
func Lines(c *herd.Cache) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		c.Range(func(e *herd.Entry) bool { return yield(e.Line) })
	}
}

// offer returns the apply function of Read that offers each entry to c, as
// a peer update is offered: it is stored if newer than what c holds.
func offer(c *herd.Cache) func(*codec.Command, []byte) {
	return func(cmd *codec.Command, line []byte) { c.Offer(cmd.ClientID, cmd.Stamp, line) }
}
