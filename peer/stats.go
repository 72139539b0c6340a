package peer

import (
	"sync/atomic"
	"time"
)

// LinkState is what an outbound link is doing.
type LinkState int32

const (
	// StateConnecting: the link has not been up yet and has not failed yet.
	StateConnecting LinkState = iota
	// StateUp: the handshake succeeded and updates flow.
	StateUp
	// StateDown: the neighbour is unreachable or the link broke; it is
	// being retried with backoff.
	StateDown
)

func (s LinkState) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateDown:
		return "down"
	}
	return "connecting"
}

// linkStats are one link's counters and state. The link's goroutine writes
// them; Stats reads them from any goroutine.
type linkStats struct {
	state LinkState // under atomic ops
	since atomic.Int64
	ups   atomic.Uint64
	sent  atomic.Uint64
}

func (st *linkStats) set(s LinkState) {
	if LinkState(atomic.SwapInt32((*int32)(&st.state), int32(s))) != s || st.since.Load() == 0 {
		st.since.Store(time.Now().UnixNano())
	}
	if s == StateUp {
		st.ups.Add(1)
	}
}

func (st *linkStats) get() (LinkState, time.Time) {
	s := LinkState(atomic.LoadInt32((*int32)(&st.state)))
	return s, time.Unix(0, st.since.Load())
}

// LinkStats is a snapshot of one outbound link, for metrics and /status.
type LinkStats struct {
	Peer  string
	State LinkState
	// Since is when the link entered State (when the links started, for a
	// link still connecting).
	Since time.Time
	// Reconnects counts the times the link came back up after its first up.
	Reconnects uint64
	// Sent counts the updates written to the neighbour, reconciliation
	// pushes included.
	Sent uint64
	// Dropped counts the updates dropped because the queue was full.
	Dropped uint64
}

// Stats reports every outbound link. Any goroutine.
func (ls *Links) Stats() []LinkStats {
	links := ls.links()
	out := make([]LinkStats, len(links))
	for i, l := range links {
		state, since := l.st.get()
		ups := l.st.ups.Load()
		out[i] = LinkStats{Peer: l.name, State: state, Since: since, Sent: l.st.sent.Load(), Dropped: l.dropped.Load()}
		if ups > 1 {
			out[i].Reconnects = ups - 1
		}
	}
	return out
}
