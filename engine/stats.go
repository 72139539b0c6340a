package engine

import (
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/herdnet/herd/codec"
)

// Line kinds counted per event loop, the label values of
// herd_lines_total{kind}.
const (
	LineIAMAT = iota
	LineWHATSAT
	LineAT
	LinePEER
	LineInvalid
	numLineKinds
)

// LineKinds are the names of the line kinds, indexed like Stats.Lines.
var LineKinds = [numLineKinds]string{"IAMAT", "WHATSAT", "AT", "PEER", "invalid"}

// Stats is a snapshot of a server's counters, summed over its event loops.
type Stats struct {
	// Connections is the number of open connections (clients and
	// neighbours' inbound links).
	Connections int64
	// Accepted counts every connection opened so far.
	Accepted uint64
	// Refused counts connections the node turned away.
	Refused uint64
	// Lines counts the lines answered, by kind (index with LineIAMAT...).
	Lines [numLineKinds]uint64
	// MaxConns is the client connection cap in force (limits.max_conns,
	// or the automatic one).
	MaxConns int
	// Closed counts connections the node cut off, by reason (named like
	// CloseReasons).
	Closed [numCloseReasons]uint64
	// Overloaded counts WHATSATs answered OVER_QUERY_LIMIT at once because
	// too many were waiting for the places backend.
	Overloaded uint64
}

// Reasons a connection is cut off, the label values of
// herd_connections_closed_total{reason}.
const (
	CloseIdle         = iota // idle_timeout
	CloseSlowLine            // line_timeout
	CloseWriteTimeout        // write_timeout: owed output made no progress
	CloseOutputTotal         // closed to keep max_output_total
	CloseMaxOutbound         // max_outbound
	CloseFlood               // max_paused_inbound
	CloseLineTooLong         // a line over max_line
	numCloseReasons
)

// CloseReasons are the names of the close reasons, indexed like Stats.Closed.
var CloseReasons = [numCloseReasons]string{"idle", "slow_line", "write_timeout", "output_total", "max_outbound", "flood", "line_too_long"}

// loopStats are the counters of one event loop. Only that loop writes them
// (uncontended atomic adds on a cache line no other loop touches); Stats
// reads them from any goroutine. The padding keeps two loops' counters, and
// anything allocated next to them, off each other's cache lines.
type loopStats struct {
	_      [128]byte
	opened atomic.Uint64
	closed atomic.Uint64
	lines  [numLineKinds]atomic.Uint64
	_      [128]byte
	loop   gnet.EventLoop
}

// statShards maps each event loop to its counters. Lookups (once per
// connection, in OnOpen) read a copy-on-write slice; a loop seen for the
// first time adds its shard under mu.
type statShards struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*loopStats]
}

// of returns the counters of c's event loop. Event loop only.
func (sh *statShards) of(c gnet.Conn) *loopStats {
	el := c.EventLoop()
	if p := sh.list.Load(); p != nil {
		for _, ls := range *p {
			if ls.loop == el {
				return ls
			}
		}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var cur []*loopStats
	if p := sh.list.Load(); p != nil {
		cur = *p
	}
	for _, ls := range cur {
		if ls.loop == el {
			return ls
		}
	}
	ls := &loopStats{loop: el}
	next := append(append(make([]*loopStats, 0, len(cur)+1), cur...), ls)
	sh.list.Store(&next)
	return ls
}

// countLine counts one answered line: kind is what it parsed as, and a
// reply starting with "? " makes it invalid whatever it parsed as (a
// WHATSAT about an unknown client). Event loop only.
func (ls *loopStats) countLine(kind codec.Kind, reply []byte) {
	k := LineInvalid
	if len(reply) == 0 || reply[0] != '?' {
		switch kind {
		case codec.KindIAMAT:
			k = LineIAMAT
		case codec.KindWHATSAT:
			k = LineWHATSAT
		case codec.KindAT:
			k = LineAT
		case codec.KindPeer:
			k = LinePEER
		}
	}
	ls.lines[k].Add(1)
}

// Stats sums the counters of every event loop. Any goroutine; it allocates
// nothing and takes no lock the loops take.
func (s *Server) Stats() Stats {
	// Refusals and cut-offs are rare: shared counters.
	c := &s.closed
	st := Stats{
		Refused: c.refused.Load(), MaxConns: s.maxConns, Overloaded: c.overloaded.Load(),
		Closed: [numCloseReasons]uint64{
			CloseIdle: c.idle.Load(), CloseSlowLine: c.slowLine.Load(), CloseWriteTimeout: c.writeTimeout.Load(),
			CloseOutputTotal: c.outputTotal.Load(), CloseMaxOutbound: c.maxOutbound.Load(),
			CloseFlood: c.flood.Load(), CloseLineTooLong: c.lineTooLong.Load(),
		},
	}
	p := s.stats.list.Load()
	if p == nil {
		return st
	}
	for _, ls := range *p {
		opened, closed := ls.opened.Load(), ls.closed.Load()
		st.Accepted += opened
		st.Connections += int64(opened) - int64(closed)
		for k := range st.Lines {
			st.Lines[k] += ls.lines[k].Load()
		}
	}
	return st
}
