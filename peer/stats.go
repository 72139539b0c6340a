package peer

import "time"

// LinkState is what an outbound link is doing.
type LinkState int32

const (
	// StateConnecting: the link is dialling or handshaking.
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

// LinkStats is a snapshot of one outbound link, for metrics and /status.
type LinkStats struct {
	Peer  string
	State LinkState
	// Since is when the link entered State.
	Since time.Time
	// Reconnects counts the times the link came back up after its first up.
	Reconnects uint64
	// Sent counts the updates written to the neighbour, syncs included.
	Sent uint64
	// Dropped counts the updates dropped because the queue was full.
	Dropped uint64
	// Syncs counts the digest syncs completed.
	Syncs uint64
}

// Stats reports every outbound link, typed for the admin port. Any
// goroutine.
func (ls *Links) Stats() []LinkStats {
	status := ls.Status()
	out := make([]LinkStats, len(status))
	for i, st := range status {
		state := StateDown
		switch st.State {
		case "up":
			state = StateUp
		case "connecting":
			state = StateConnecting
		}
		out[i] = LinkStats{Peer: st.Name, State: state, Since: st.Since, Reconnects: st.Reconnects, Sent: st.Sent, Dropped: st.Dropped, Syncs: st.Syncs}
	}
	return out
}
