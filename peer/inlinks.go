package peer

import (
	"bufio"
	"cmp"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// inLink is an inbound link that finished its handshake: the neighbour's
// updates arrive on it.
type inLink struct {
	name, remote string
	since        time.Time
	conn         net.Conn
	// cut is set when a reload removed the neighbour: the link applies
	// nothing more (not even lines already read) and ends.
	cut atomic.Bool

	// The spanning-tree push (tree.go).
	tree    bool        // negotiated; the inbound goroutine only
	pruned  atomic.Bool // PRUNE sent, no GRAFT since
	scratch []byte      // the inbound goroutine only

	wmu sync.Mutex // serialises writes on w: answers, PRUNE, GRAFT
	w   *bufio.Writer
}

// write writes a line back to the neighbour. Any goroutine.
func (in *inLink) write(fields ...string) error {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	return writeLine(in.w, fields...)
}

// InboundStats is one inbound link (the direction that carries a
// neighbour's updates to this node), for /status.
type InboundStats struct {
	Peer   string
	Remote string    // the neighbour's address as this node sees it
	Since  time.Time // when its handshake succeeded
}

// Inbound reports the inbound links that are up, by neighbour name. Any
// goroutine.
func (ls *Links) Inbound() []InboundStats {
	ls.mu.Lock()
	out := make([]InboundStats, 0, len(ls.conns))
	for _, in := range ls.conns {
		if in != nil {
			out = append(out, InboundStats{Peer: in.name, Remote: in.remote, Since: in.since})
		}
	}
	ls.mu.Unlock()
	slices.SortFunc(out, func(a, b InboundStats) int {
		return cmp.Or(cmp.Compare(a.Peer, b.Peer), a.Since.Compare(b.Since))
	})
	return out
}

// linkedIn records that conn, whose handshake just succeeded, is the
// neighbour name's inbound link. It refuses (nil) a name that is no longer
// a neighbour: a reload may have removed it during the handshake. Checked
// under ls.mu, as cutRemoved closes links under it, so no link of a removed
// neighbour outlives the reload.
func (ls *Links) linkedIn(conn net.Conn, w *bufio.Writer, name, remote string) *inLink {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.stopped || !ls.isNeighbor(name) {
		return nil
	}
	in := &inLink{name: name, remote: remote, since: ls.cfg.Clock(), conn: conn, w: w}
	ls.conns[conn] = in
	return in
}

// cutRemoved closes the inbound links of names that are no longer
// neighbours, at once, and returns how many it closed. Call it after the
// new names are stored.
func (ls *Links) cutRemoved() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	n := 0
	for c, in := range ls.conns {
		if in != nil && !ls.isNeighbor(in.name) {
			in.cut.Store(true)
			c.Close()
			delete(ls.conns, c) // untrack closes it again, harmlessly
			n++
		}
	}
	return n
}
