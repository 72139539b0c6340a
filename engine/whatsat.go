package engine

import (
	"context"

	"github.com/panjf2000/gnet/v2"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// workers run WHATSAT backend calls off the event loops: a fixed number of
// goroutines (the node's in-flight bound) fed by a bounded queue.
type workers struct {
	s    *Server
	n    int
	jobs chan job
}

type job struct {
	ctx    context.Context // the connection's: cancelled when it goes away
	c      gnet.Conn
	connID uint64
	r      *reply
	e      *herd.Entry
	q      herd.WhatsatQuery
}

func newWorkers(s *Server, n int) *workers {
	if n < 1 {
		n = 1
	}
	return &workers{s: s, n: n, jobs: make(chan job, 4*n)}
}

func (w *workers) start() {
	for range w.n {
		w.s.goFunc(w.run)
	}
}

func (w *workers) run() {
	for {
		select {
		case <-w.s.ctx.Done():
			return
		case j := <-w.jobs:
			if j.ctx.Err() != nil { // the client left while the job waited
				close(j.r.done)
				continue
			}
			j.r.buf = w.s.node.WHATSAT(j.ctx, nil, j.e, j.q)
			close(j.r.done)
			w.s.log.Line("send", j.connID, "", j.r.buf)
			_ = j.c.Wake(nil) // ignored if the connection is gone
		}
	}
}

// startWhatsat queues a WHATSAT about the client whose entry is e. The reply
// takes its place in the connection's pending queue at once, so later
// replies wait for it. Event loop only.
func (s *Server) startWhatsat(c gnet.Conn, st *connState, e *herd.Entry, cmd *codec.Command) {
	r := &reply{done: make(chan struct{})}
	q := herd.WhatsatQuery{RadiusKm: cmd.RadiusKm, Bound: cmd.Bound}
	if st.ctx == nil {
		st.ctx, st.cancel = context.WithCancel(s.ctx)
	}
	select {
	case s.work.jobs <- job{ctx: st.ctx, c: c, connID: st.id, r: r, e: e, q: q}:
	default:
		// Every worker is busy and the queue is full: shed load at once
		// rather than let the backlog grow.
		r.buf = s.node.WHATSATFailed(nil, e, herd.ErrOverloaded)
		close(r.done)
		s.closed.overloaded.Add(1)
	}
	st.pending = append(st.pending, r)
}
