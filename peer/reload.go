package peer

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/herdnet/herd/internal/logq"
)

// Update changes the set of neighbours while the node runs (SIGHUP reload):
// links to neighbours that are gone are flushed and closed, links to new
// ones start (and reconcile with a digest sync on connecting), and links
// whose neighbour keeps its name and address are left alone, so clients and
// updates in flight are not disturbed. Inbound links are accepted from the
// new set of names from now on. Calls are serialised with each other and
// with Close; any goroutine. It does nothing before Start or once the
// links are closed.
func (ls *Links) Update(neighbors []Neighbor) (added, removed []string) {
	ls.reload.Lock()
	defer ls.reload.Unlock()
	ls.mu.Lock()
	stopped := ls.stopped
	ls.mu.Unlock()
	if stopped || ls.node == nil {
		return nil, nil
	}
	names := make([]string, len(neighbors))
	for i, nb := range neighbors {
		names[i] = nb.Name
	}
	ls.allowed.Store(&names)
	old := ls.links()
	next := make([]*link, 0, len(neighbors))
	var started []*link
	for _, nb := range neighbors {
		i := slices.IndexFunc(old, func(l *link) bool { return l.name == nb.Name && l.addr == nb.Address })
		if i >= 0 {
			next = append(next, old[i])
			continue
		}
		l := newLink(ls, nb)
		next = append(next, l)
		started = append(started, l)
		added = append(added, nb.Name)
	}
	for _, l := range old {
		if !slices.Contains(next, l) {
			l.cancel()
			removed = append(removed, l.name)
		}
	}
	ls.list.Store(&next)
	for _, l := range started {
		ls.goFunc(l.run)
	}
	if len(added)+len(removed) > 0 {
		ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "neighbours reloaded: added " + join(added) + "; removed " + join(removed)})
	}
	return added, removed
}

func join(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
