package peer

import (
	"context"
	"log/slog"
	"slices"

	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/logq"
)

// startLink creates the link to nb and starts its goroutine.
func (ls *Links) startLink(nb Neighbor) *link {
	l := &link{ls: ls, name: nb.Name, addr: nb.Address, q: make(chan *herd.Entry, ls.cfg.Queue)}
	l.ctx, l.cancel = context.WithCancel(ls.ctx)
	l.st.set(StateConnecting)
	ls.wg.Go(l.run)
	return l
}

// Update changes the set of neighbours while the node runs (SIGHUP reload):
// links to neighbours that are gone are flushed and closed, links to new
// ones start (and reconcile the whole cache on connecting), and links whose
// neighbour keeps its name and address are left alone, so clients and
// updates in flight are not disturbed. Calls are serialised with each other;
// any goroutine. It does nothing once the links are closed.
func (ls *Links) Update(neighbors []Neighbor) (added, removed []string) {
	ls.reload.Lock()
	defer ls.reload.Unlock()
	if ls.stopped.Load() {
		return nil, nil
	}
	old := ls.links()
	next := make([]*link, 0, len(neighbors))
	for _, nb := range neighbors {
		i := slices.IndexFunc(old, func(l *link) bool { return l.name == nb.Name && l.addr == nb.Address })
		if i >= 0 {
			next = append(next, old[i])
			continue
		}
		next = append(next, ls.startLink(nb))
		added = append(added, nb.Name)
	}
	for _, l := range old {
		if !slices.Contains(next, l) {
			l.cancel()
			removed = append(removed, l.name)
		}
	}
	ls.list.Store(&next)
	if len(added)+len(removed) > 0 {
		ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "neighbours reloaded: added " + join(added) + "; removed " + join(removed)})
	}
	return added, removed
}

func join(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := names[0]
	for _, n := range names[1:] {
		out += ", " + n
	}
	return out
}
