package peer

import (
	"fmt"
	"time"
)

// LinkState is what an outbound link is doing.
type LinkState int32

const (
	// StateDown: the neighbour is unreachable or the link broke (or went
	// silent for peers.timeout); it is being retried with backoff.
	StateDown LinkState = iota
	// StateConnecting: the link is dialling or handshaking.
	StateConnecting
	// StateUp: the handshake succeeded and updates flow.
	StateUp
)

var stateNames = [...]string{StateDown: "down", StateConnecting: "connecting", StateUp: "up"}

func (s LinkState) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "down"
}

// MarshalText writes the state's name ("up", "connecting" or "down").
func (s LinkState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *LinkState) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = LinkState(i)
			return nil
		}
	}
	return fmt.Errorf("peer: unknown link state %q", b)
}

// LinkStats is a snapshot of one outbound link (the direction that carries
// this node's updates to the neighbour), for metrics and /status.
type LinkStats struct {
	Peer  string    `json:"peer"`
	State LinkState `json:"state"`
	// Since is when the link entered State.
	Since time.Time `json:"since"`
	// Reconnects counts the times the link came back up after its first up.
	Reconnects uint64 `json:"reconnects"`
	// Sent counts the updates written to the neighbour, syncs included.
	Sent uint64 `json:"sent"`
	// Syncs counts the digest syncs completed.
	Syncs uint64 `json:"syncs"`
	// Pending is the updates waiting to be written: the clients in the
	// pending set and those of the batch being written (a client is in
	// each at most once).
	Pending int `json:"pending"`
	// Lag is the age in seconds of the oldest waiting update (0: none).
	Lag float64 `json:"lag_seconds"`
	// Coalesced counts the updates that found their client already
	// waiting: one send carries them all.
	Coalesced uint64 `json:"coalesced"`
	// Held counts the waiting updates not sent because the neighbour sent
	// this node the very line first.
	Held uint64 `json:"held"`
}

// Stats reports every outbound link. Any goroutine.
func (ls *Links) Stats() []LinkStats {
	links := ls.links()
	out := make([]LinkStats, len(links))
	now := timeNow().UnixNano()
	for i, l := range links {
		n, first, coalesced, removed := l.q.stats()
		if f := l.sendingFirst.Load(); f != 0 && (first == 0 || f < first) {
			first = f
		}
		out[i] = LinkStats{
			Peer: l.name, State: LinkState(l.state.Load()),
			Since:     time.Unix(0, l.since.Load()),
			Sent:      l.sent.Load(),
			Syncs:     l.syncs.Load(),
			Pending:   n + int(l.sending.Load()),
			Coalesced: coalesced,
			Held:      removed,
		}
		if first != 0 {
			out[i].Lag = time.Duration(now - first).Seconds()
		}
		if n := l.ups.Load(); n > 0 {
			out[i].Reconnects = n - 1
		}
	}
	return out
}
