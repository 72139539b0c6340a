package peer

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/internal/logq"
)

// RefusalReason is why an inbound link was refused.
type RefusalReason int

const (
	// RefusedNotNeighbor: the dialer is no neighbour of this node (or no
	// longer: a reload removed it).
	RefusedNotNeighbor RefusalReason = iota
	// RefusedAuth: the dialer failed the herd secret's or the TLS
	// certificate's check.
	RefusedAuth
	// RefusedHandshake: a malformed, slow or broken handshake.
	RefusedHandshake
	// RefusedTooMany: MaxInbound links were open.
	RefusedTooMany
	numRefusalReasons
)

// String is the reason's label in herd_peer_inbound_refused_total.
func (r RefusalReason) String() string {
	return [...]string{"not_neighbour", "auth", "handshake", "too_many"}[r]
}

// Refusals counts the inbound links refused, by reason, since the node
// started.
type Refusals [numRefusalReasons]uint64

// RefusalReasons lists every reason, in the order of Refusals.
var RefusalReasons = [numRefusalReasons]RefusalReason{RefusedNotNeighbor, RefusedAuth, RefusedHandshake, RefusedTooMany}

// Refused reports the inbound links refused so far. Any goroutine.
func (ls *Links) Refused() Refusals {
	var out Refusals
	for i := range out {
		out[i] = ls.refused.n[i].Load()
	}
	return out
}

// ErrNotNeighbor means a node that is not a neighbour of this one tried to
// link in.
var ErrNotNeighbor = errors.New("peer: handshake refused")

var errTooMany = errors.New("peer: too many inbound links")

// refusals counts inbound refusals and keeps the log to what an operator
// needs: the first refusal of a dialer (a name, or an address that gave
// none) for a reason is logged, and its repeats within summaryEvery (a
// neighbour a reload removed redials every backoff; an attacker retries)
// are only counted, and summarised in at most one line per summaryEvery.
// At most maxRefusalKeys dialers are logged one by one per interval.
type refusals struct {
	n [numRefusalReasons]atomic.Uint64

	mu      sync.Mutex
	logged  map[refusalKey]time.Time // when each dialer's refusal was logged
	pending uint64                   // refusals since the last summary, not logged
	last    logq.Event               // the latest of them
}

type refusalKey struct {
	reason RefusalReason
	name   string
}

const maxRefusalKeys = 16

// summaryEvery is how often refusals that were not logged one by one are
// summarised.
const summaryEvery = 10 * time.Second

func refusalReason(err error) RefusalReason {
	switch {
	case errors.Is(err, ErrNotNeighbor):
		return RefusedNotNeighbor
	case errors.Is(err, ErrAuth) || errors.Is(err, ErrCertName):
		return RefusedAuth
	case errors.Is(err, errTooMany):
		return RefusedTooMany
	}
	return RefusedHandshake
}

// refuse counts an inbound link refused for reason, and logs it when no
// line about refusals was written in the last summaryEvery; otherwise the
// next summary counts it. Any goroutine.
func (ls *Links) refuse(reason RefusalReason, name, remote string, err error) {
	r := &ls.refused
	r.n[reason].Add(1)
	lvl := slog.LevelWarn
	if reason == RefusedAuth {
		lvl = slog.LevelError
	}
	ev := logq.Event{Level: lvl, Msg: "inbound link refused", Peer: name, Remote: remote, Err: err}
	k := refusalKey{reason, name}
	if name == "" {
		k.name, _, _ = net.SplitHostPort(remote)
	}
	now := ls.cfg.Clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logged == nil {
		r.logged = map[refusalKey]time.Time{}
	}
	at, seen := r.logged[k]
	if (seen && now.Sub(at) < summaryEvery) || (!seen && len(r.logged) >= maxRefusalKeys) {
		r.pending++
		r.last = ev
		return
	}
	r.logged[k] = now
	ls.log.Send(ev)
}

// summariseRefusals logs, every summaryEvery, the refusals that were not
// logged one by one, until the links close.
func (ls *Links) summariseRefusals() {
	t := time.NewTicker(summaryEvery)
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
		}
		now := ls.cfg.Clock()
		r := &ls.refused
		r.mu.Lock()
		for k, at := range r.logged {
			if now.Sub(at) >= summaryEvery {
				delete(r.logged, k)
			}
		}
		if r.pending > 0 {
			var total uint64
			for i := range r.n {
				total += r.n[i].Load()
			}
			ev := r.last
			ev.Level = slog.LevelWarn
			ev.Msg = "inbound links refused again (count since the last notice; the latest named here)"
			ev.Count, ev.Total = r.pending, total
			ls.log.Send(ev)
			r.pending = 0
		}
		r.mu.Unlock()
	}
}
