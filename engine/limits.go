package engine

import (
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herdnet/herd/internal/logq"
)

// peerSlots is how many connections may stay outside limits.max_conns:
// inbound neighbour links (recognised by their PEER handshake) and the
// connections accepted over the cap while they show whether they are one.
// A node has a handful of neighbours; the bound keeps a client that claims
// to be a peer from escaping the cap.
const peerSlots = 64

// probationGrace is how long a connection accepted over the cap may take to
// send its PEER handshake before it is closed.
const probationGrace = time.Second

// lingerGrace is how long a drained connection, its replies delivered and
// its write side shut, waits for the client's own close before the node
// closes it anyway.
const lingerGrace = time.Second

// bigDebt is the output owed by a closing connection past which the ticker
// hands freed memory back to the system (FreeOSMemory, at most every 5 s):
// without it a node keeps the RSS a crowd of non-readers pushed up until
// the runtime's scavenger gets round to it.
const bigDebt = 256 << 10

// kick reasons: why the ticker wants a connection closed.
const (
	kickIdle uint32 = iota + 1
	kickSlowLine
	kickOutputTotal
	kickProbation
)

// fdLimit returns the process's open-file limit (RLIMIT_NOFILE, soft).
func fdLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 20
	}
	return int(rl.Cur)
}

// maxConnsFor returns the client connection cap of a server that may use
// limit/share descriptors: configured (0 for auto) but never more than
// three quarters of the share less 64, so that the listen backlog, peer
// links, log files and the descriptors lent to half-closed clients always
// find room, and accept never fails with EMFILE (gnet would stop the node).
func maxConnsFor(configured, limit, share int) (maxConns int, lowered bool) {
	share = max(share, 1)
	ceiling := max(limit/share*3/4-64, 16)
	if configured <= 0 {
		return ceiling, false
	}
	if configured > ceiling {
		return ceiling, true
	}
	return configured, false
}

// backlogFor is the listen backlog that keeps an accept burst within half
// the descriptors a server has above maxConns: between 64 and 4096.
func backlogFor(limit, share, maxConns int) int {
	headroom := limit/max(share, 1) - maxConns
	return min(max(headroom/2, 64), 4096)
}

// registry is every open connection of a server, for the ticker: sharded so
// that a loop adding or removing one waits on a shard the ticker holds for
// at most a few microseconds.
type registry struct {
	shards [16]struct {
		mu sync.Mutex
		m  map[*connState]gnet.Conn
	}
}

func (r *registry) add(st *connState, c gnet.Conn) {
	sh := &r.shards[st.id%uint64(len(r.shards))]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[*connState]gnet.Conn)
	}
	sh.m[st] = c
	sh.mu.Unlock()
}

func (r *registry) remove(st *connState) {
	sh := &r.shards[st.id%uint64(len(r.shards))]
	sh.mu.Lock()
	delete(sh.m, st)
	sh.mu.Unlock()
}

// each calls f for every registered connection, one shard locked at a time.
// f must not block (gnet's Wake and Close only enqueue a task).
func (r *registry) each(f func(st *connState, c gnet.Conn)) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for st, c := range sh.m {
			f(st, c)
		}
		sh.mu.Unlock()
	}
}

// stats counts what the node refused or cut off. The ticker logs the
// increments once per summary interval; the admin port may export them.
type closeCounts struct {
	refused      atomic.Uint64 // connections closed at once: over max_conns, or draining
	idle         atomic.Uint64 // closed by idle_timeout
	slowLine     atomic.Uint64 // closed by line_timeout
	writeTimeout atomic.Uint64 // closed by write_timeout
	outputTotal  atomic.Uint64 // closed to keep max_output_total
	maxOutbound  atomic.Uint64 // closed by max_outbound
	flood        atomic.Uint64 // closed by max_paused_inbound
	lineTooLong  atomic.Uint64 // closed for a line over max_line
	overloaded   atomic.Uint64 // WHATSATs answered OVER_QUERY_LIMIT at once
}

// counters pairs each counter with its name in the summary log.
func (st *closeCounts) counters() []struct {
	name string
	v    *atomic.Uint64
} {
	return []struct {
		name string
		v    *atomic.Uint64
	}{
		{"refused_conns", &st.refused}, {"closed_idle", &st.idle}, {"closed_slow_line", &st.slowLine},
		{"closed_write_timeout", &st.writeTimeout}, {"closed_output_total", &st.outputTotal},
		{"closed_max_outbound", &st.maxOutbound}, {"closed_flood", &st.flood},
		{"closed_line_too_long", &st.lineTooLong}, {"whatsat_overloaded", &st.overloaded},
	}
}

// ticker is the state only OnTick touches.
type ticker struct {
	lastSummary int64
	reported    []uint64 // counter values at the last summary
	logDropped  uint64
	rejected    uint64  // invalid lines as of the last summary
	owing       []owing // reused: connections that owe output
	freedAt     int64   // when FreeOSMemory last ran
}

type owing struct {
	st *connState
	c  gnet.Conn
	d  *halfClosed // instead of st and c: a half-closed client's delivery
	n  int64
}

// tickEvery is the ticker's period: a quarter of the shortest timeout,
// between 5 ms and 250 ms (so max_output_total is enforced within a
// quarter second).
func tickEvery(l limitsView) time.Duration {
	d := 250 * time.Millisecond
	for _, t := range []time.Duration{l.idle, l.line, l.write} {
		if t > 0 {
			d = min(d, t/4)
		}
	}
	return max(d, 5*time.Millisecond)
}

// limitsView is the time limits as the ticker and loops use them.
type limitsView struct {
	idle, line, write time.Duration // idle <= 0: off
}

// OnTick runs on gnet's ticker goroutine (not an event loop). It advances
// the coarse clock the loops read, wakes connections past a timeout (the
// loop closes them), refreshes the output owed by clients that do not read,
// closes those owing the most when the node-wide bound is passed, and logs
// the summary of refusals.
func (s *Server) onTick() (time.Duration, gnet.Action) {
	now := time.Now().UnixNano()
	s.clock.Store(now)
	tk := &s.tick
	tk.owing = tk.owing[:0]
	var owed int64
	draining := s.draining.Load()
	idle, line := int64(s.timeouts.idle), int64(s.timeouts.line)
	s.conns.each(func(st *connState, c gnet.Conn) {
		if draining {
			_ = c.Wake(nil) // the loop delivers, shuts down, closes
			return
		}
		if st.kick.Load() != 0 {
			_ = c.Wake(nil) // to close
			return
		}
		if n := st.owed.Load(); n > 0 {
			// Draining or not, what it owes counts toward max_output_total.
			owed += n
			tk.owing = append(tk.owing, owing{st: st, c: c, n: n})
		}
		if st.drain.Load() || st.owed.Load() > 0 {
			// To advance its drain, or to refresh what it owes and check
			// write_timeout.
			_ = c.Wake(nil)
			if st.drain.Load() {
				return
			}
		}
		switch {
		case st.probation.Load() && now-st.opened > int64(probationGrace):
			s.kickConn(st, c, kickProbation)
			return
		case idle > 0 && now-st.lastLine.Load() > idle:
			s.kickConn(st, c, kickIdle)
			return
		}
		if p := st.partialSince.Load(); p != 0 && now-p > line {
			s.kickConn(st, c, kickSlowLine)
		}
	})
	var hc int64
	tk.owing, hc = s.halfClosed.owing(tk.owing)
	owed += hc
	if over := owed - int64(s.limits().MaxOutputTotal); over > 0 && !draining {
		s.shedOutput(over)
	}
	if now-tk.freedAt > int64(5*time.Second) && s.freeOSMemory.CompareAndSwap(true, false) {
		// Connections that owed a lot are gone: their buffers are garbage.
		// Hand the memory back to the system now, not at the next GC cycles.
		tk.freedAt = now
		s.goFunc(func() {
			// Twice: gnet's buffers sit in sync.Pools, which one GC only
			// moves to their victim cache; the second frees them.
			debug.FreeOSMemory()
			debug.FreeOSMemory()
		})
	}
	if now-tk.lastSummary >= int64(s.cfg.SummaryInterval) {
		tk.lastSummary = now
		s.summary()
	}
	return s.tickEvery, gnet.None
}

func (s *Server) kickConn(st *connState, c gnet.Conn, why uint32) {
	if st.kick.CompareAndSwap(0, why) {
		_ = c.Wake(nil)
	}
}

// shedOutput closes the connections owing the most output until over bytes
// are freed. Ticker only.
func (s *Server) shedOutput(over int64) {
	tk := &s.tick
	o := tk.owing
	// Largest first: a partial selection sort, since few are closed.
	freed := int64(0)
	for i := 0; i < len(o) && freed < over; i++ {
		m := i
		for j := i + 1; j < len(o); j++ {
			if o[j].n > o[m].n {
				m = j
			}
		}
		o[i], o[m] = o[m], o[i]
		if o[i].d != nil {
			o[i].d.cut()
		} else {
			s.kickConn(o[i].st, o[i].c, kickOutputTotal)
		}
		freed += o[i].n
	}
	s.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "max_output_total reached: closing the clients that owe the most",
		Attrs: []slog.Attr{slog.Int64("owed", over+int64(s.limits().MaxOutputTotal)), slog.Int64("freeing", freed)}})
}

// summary logs, at info, what was refused or cut off since the last
// summary (nothing when nothing was). Ticker only.
func (s *Server) summary() {
	tk := &s.tick
	cs := s.closed.counters()
	if tk.reported == nil {
		tk.reported = make([]uint64, len(cs))
	}
	var attrs []slog.Attr
	for i, c := range cs {
		if v := c.v.Load(); v != tk.reported[i] {
			attrs = append(attrs, slog.Uint64(c.name, v-tk.reported[i]))
			tk.reported[i] = v
		}
	}
	// Lines answered "? " are counted per event loop (stats.go): summed here,
	// not counted twice on the request path.
	if inv := s.Stats().Lines[LineInvalid]; inv != tk.rejected {
		attrs = append(attrs, slog.Uint64("rejected_lines", inv-tk.rejected))
		tk.rejected = inv
	}
	if d := s.log.Dropped(); d != tk.logDropped {
		attrs = append(attrs, slog.Uint64("log_dropped", d-tk.logDropped))
		tk.logDropped = d
	}
	if len(attrs) == 0 {
		return
	}
	attrs = append(attrs, slog.Int64("clients", s.clients.Load()), slog.Duration("interval", s.cfg.SummaryInterval))
	s.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "summary of refusals and drops", Attrs: attrs})
}
