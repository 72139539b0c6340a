package peer

import (
	"bufio"
	"bytes"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/herd"
)

// Spanning-tree push with lazy repair (Plumtree: Leitão, Pereira and
// Rodrigues, "Epidemic Broadcast Trees", 2007), for herds whose graph has
// cycles, where a plain flood delivers most updates several times (a
// random 4-regular herd: two of three messages are duplicates; a full
// mesh: nearly all).
//
// Negotiated per connection, right after the handshake: the dialer of a
// node with peers.tree sends "TREE"; an acceptor with peers.tree answers
// "TREE" on the same connection, and from then on that link is a tree
// link. A node without it ignores the line and answers nothing, and the
// link floods plainly, so such nodes interoperate.
//
// On a tree link every update is first pushed (eager). A node that
// receives, over a tree link, an update it already held answers "PRUNE" on
// that connection: the sender's link to it turns lazy, and from then on
// announces updates with "IHAVE client hash" (hash: herd.LineHash of the
// client's newest AT line, in hex) instead of pushing them; like the
// pending set of AT lines, a client waits to be announced at most once. A
// node that hears of an update it lacks and does not receive it within
// graftAfter (the tree above it broke, or is slower) answers "GRAFT
// client" on the announcing connection: the announcer's link turns eager
// again and the client joins its pending set. The pruned edges form a spanning tree; the lazy ones
// repair it. Digest syncs still run on every link.
//
// graftAfter is long against a hop (about a millisecond) on purpose: a
// graft adds a cycle that the next duplicate prunes again, so grafting
// updates that are merely slow (a busy herd) churns the tree and costs
// more than it repairs (measured in peersim: at 250 ms a burst at 50
// nodes grafted 7 times per update; at 1 s, none).
const graftAfter = time.Second

// maxMissing bounds the announced updates a node waits for at once; past
// it announcements are ignored, and digest syncs repair what they named.
const maxMissing = 1 << 16

// linkTree is a link's tree state.
type linkTree struct {
	on   atomic.Bool // negotiated on the current connection
	lazy atomic.Bool // pruned: announce instead of pushing
	// news counts the updates from this neighbour that were stored: the
	// inbound link compares it around an update to tell news from a
	// duplicate.
	news atomic.Uint64

	scratch []byte // a line read from the cache; the link's reader goroutine only

	// announce is the clients to announce with IHAVE, a pending set like
	// the link's own: a client waits once however often it changes, and
	// the link announces the hash of its newest line when it writes.
	announce *pending
	spare    []byte // the ids taken last; link goroutine only
	line     []byte // a line read from the cache; link goroutine only
	out      []byte // the IHAVE line being written; link goroutine only
}

func newLinkTree(seed maphash.Seed) *linkTree { return &linkTree{announce: newPending(seed)} }

// reset starts a connection: eager, not negotiated, nothing waiting.
func (t *linkTree) reset() {
	t.on.Store(false)
	t.lazy.Store(false)
	t.announce.clear()
}

// TreeStats counts a node's spanning-tree traffic (all zero without
// peers.tree).
type TreeStats struct {
	Links     int    // outbound links that negotiated the tree
	Lazy      int    // of which pruned (announcing)
	Announced uint64 // clients queued for an IHAVE
	Prunes    uint64 // PRUNE lines sent
	Grafts    uint64 // GRAFT lines sent
}

// Tree reports the node's spanning-tree state. Any goroutine.
func (ls *Links) Tree() TreeStats {
	s := TreeStats{Announced: ls.tree.announced.Load(), Prunes: ls.tree.prunes.Load(), Grafts: ls.tree.grafts.Load()}
	for _, l := range ls.links() {
		if l.tree.on.Load() {
			s.Links++
			if l.tree.lazy.Load() {
				s.Lazy++
			}
		}
	}
	return s
}

// nodeTree is a node's tree state beside its links.
type nodeTree struct {
	announced, prunes, grafts atomic.Uint64

	mu      sync.Mutex
	missing map[string]missing // by client id: updates announced, not received
}

type missing struct {
	hash     uint64
	from     *inLink
	deadline time.Time
}

// floodTo hands l the update of client id (hash h under the links' seed,
// queued at now): the client joins l's pending set (pending.go), or, when
// l is a pruned tree link, its set of clients to announce. Any goroutine.
func (l *link) floodTo(id []byte, h uint64, now func() time.Time) {
	t := l.tree
	if !t.on.Load() || !t.lazy.Load() || !l.up.Load() {
		l.enqueue(id, h, now)
		return
	}
	if t.announce.push(id, h, now) {
		l.ls.tree.announced.Add(1)
	}
}

// sendAnnouncements writes "IHAVE client hash" for every client waiting
// to be announced, hash being that of the client's newest line. Link
// goroutine only.
func (l *link) sendAnnouncements(w *bufio.Writer) error {
	t := l.tree
	ids, _ := t.announce.take(t.spare)
	t.spare = ids
	cache := l.ls.cfg.Cache
	for len(ids) > 0 {
		id, rest, removed := nextID(ids)
		ids = rest
		if removed {
			continue
		}
		var ok bool
		if t.line, ok = cache.AppendLine(t.line[:0], id); !ok {
			continue
		}
		t.out = append(t.out[:0], "IHAVE "...)
		t.out = append(t.out, id...)
		t.out = append(t.out, ' ')
		t.out = strconv.AppendUint(t.out, herd.LineHash(t.line), 16)
		t.out = append(t.out, '\n')
		if _, err := w.Write(t.out); err != nil {
			return err
		}
	}
	return w.Flush()
}

// offerTree starts the negotiation on a new outbound connection. Link
// goroutine only.
func (l *link) offerTree(w *bufio.Writer) error {
	l.tree.reset()
	if !l.ls.p.Tree {
		return nil
	}
	return writeLine(w, "TREE")
}

// treeAnswer takes a control line the neighbour wrote back on this link's
// connection ("TREE", "PRUNE", "GRAFT client"). The link's reader
// goroutine.
func (l *link) treeAnswer(line []byte) {
	t := l.tree
	switch {
	case string(line) == "TREE" && l.ls.p.Tree:
		t.on.Store(true)
	case string(line) == "PRUNE" && t.on.Load():
		t.lazy.Store(true)
	case bytes.HasPrefix(line, []byte("GRAFT ")) && t.on.Load():
		t.lazy.Store(false)
		// The client joins the pending set: its newest line goes out with
		// the next batch. Only a client the cache holds.
		id := line[len("GRAFT "):]
		var ok bool
		if t.scratch, ok = l.ls.cfg.Cache.AppendLine(t.scratch[:0], id); ok {
			l.enqueue(id, maphash.Bytes(l.ls.seed, id), l.ls.cfg.Clock)
		}
	}
}

// treeLine handles a tree line that arrived on the inbound link in
// ("TREE", "IHAVE client hash"). The inbound link's goroutine.
func (ls *Links) treeLine(in *inLink, line []byte) error {
	switch {
	case string(line) == "TREE" && ls.p.Tree:
		in.tree = true
		return in.write("TREE")
	case bytes.HasPrefix(line, []byte("IHAVE ")) && in.tree:
		id, hex, ok := bytes.Cut(line[len("IHAVE "):], []byte(" "))
		hash, err := strconv.ParseUint(string(hex), 16, 64)
		if !ok || err != nil {
			return nil
		}
		in.scratch, ok = ls.cfg.Cache.AppendLine(in.scratch[:0], id)
		if ok && herd.LineHash(in.scratch) == hash {
			return nil
		}
		now := ls.cfg.Clock()
		ls.tree.mu.Lock()
		if _, waiting := ls.tree.missing[string(id)]; !waiting && len(ls.tree.missing) < maxMissing {
			if ls.tree.missing == nil {
				ls.tree.missing = map[string]missing{}
			}
			ls.tree.missing[string(id)] = missing{hash: hash, from: in, deadline: now.Add(graftAfter)}
		}
		ls.tree.mu.Unlock()
	}
	return nil
}

// treeNews returns the stored-news count of this node's link to the
// neighbour of in, for afterUpdate.
func (ls *Links) treeNews(in *inLink) uint64 {
	if !in.tree {
		return 0
	}
	if out := ls.link(in.name); out != nil {
		return out.tree.news.Load()
	}
	return 0
}

// afterUpdate prunes the sender of a duplicate: an update that came over
// the tree link in and stored nothing (news did not move) tells it to
// announce instead of pushing. The inbound link's goroutine.
func (ls *Links) afterUpdate(in *inLink, news uint64) error {
	if !in.tree || in.pruned.Load() {
		return nil
	}
	out := ls.link(in.name)
	if out == nil || out.tree.news.Load() != news {
		return nil
	}
	in.pruned.Store(true)
	if out.tree.on.Load() {
		out.tree.lazy.Store(true) // the edge leaves the tree both ways
	}
	ls.tree.prunes.Add(1)
	return in.write("PRUNE")
}

// runTree grafts, every graftAfter/2, the announcers of updates that did
// not arrive in time. Until the links close.
func (ls *Links) runTree() {
	tick := time.NewTicker(graftAfter / 2)
	defer tick.Stop()
	var scratch []byte
	type graft struct {
		in *inLink
		id string
	}
	var due []graft
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-tick.C:
		}
		now := ls.cfg.Clock()
		due = due[:0]
		ls.tree.mu.Lock()
		for id, m := range ls.tree.missing {
			if now.Before(m.deadline) {
				continue
			}
			delete(ls.tree.missing, id)
			var ok bool
			if scratch, ok = ls.cfg.Cache.AppendLine(scratch[:0], []byte(id)); ok && herd.LineHash(scratch) == m.hash {
				continue // it arrived
			}
			due = append(due, graft{m.from, id})
		}
		ls.tree.mu.Unlock()
		for _, g := range due {
			g.in.pruned.Store(false)
			if out := ls.link(g.in.name); out != nil {
				out.tree.lazy.Store(false) // the edge joins the tree both ways
			}
			if g.in.write("GRAFT", g.id) == nil {
				ls.tree.grafts.Add(1)
			}
		}
	}
}
