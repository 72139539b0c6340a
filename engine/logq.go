package engine

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// logq moves log records off the event loops: loops enqueue small events
// without blocking (dropping and counting them when the queue is full) and
// one goroutine hands them to the slog.Logger, which may block on disk.
type logq struct {
	log     *slog.Logger
	lines   bool // log every line received and sent (Info enabled)
	ch      chan logEvent
	dropped atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
}

type logEvent struct {
	level  slog.Level
	msg    string
	conn   uint64
	peer   string
	remote string
	data   []byte
	err    error
	pushed int // entries pushed when a link came up
}

const logQueueLen = 1 << 14

func newLogq(l *slog.Logger) *logq {
	return &logq{
		log:   l,
		lines: l.Enabled(context.Background(), slog.LevelInfo),
		ch:    make(chan logEvent, logQueueLen),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// send enqueues ev without blocking. Safe on any goroutine.
func (q *logq) send(ev logEvent) {
	select {
	case q.ch <- ev:
	default:
		q.dropped.Add(1)
	}
}

// line logs a line received ("recv") or sent ("send") on a connection,
// copying it. It does nothing, and allocates nothing, when lines are off.
func (q *logq) line(msg string, conn uint64, peer string, data []byte) {
	if !q.lines {
		return
	}
	q.send(logEvent{level: slog.LevelInfo, msg: msg, conn: conn, peer: peer, data: append([]byte(nil), data...)})
}

// run writes events until close is called and the queue is drained.
func (q *logq) run() {
	defer close(q.done)
	var reported uint64
	attrs := make([]slog.Attr, 0, 6)
	for {
		var ev logEvent
		select {
		case ev = <-q.ch:
		case <-q.stop:
			select {
			case ev = <-q.ch:
			default:
				return
			}
		}
		attrs = attrs[:0]
		if ev.conn != 0 {
			attrs = append(attrs, slog.Uint64("conn", ev.conn))
		}
		if ev.peer != "" {
			attrs = append(attrs, slog.String("peer", ev.peer))
		}
		if ev.remote != "" {
			attrs = append(attrs, slog.String("remote", ev.remote))
		}
		if ev.data != nil {
			attrs = append(attrs, slog.String("line", string(ev.data)))
		}
		if ev.pushed != 0 {
			attrs = append(attrs, slog.Int("pushed", ev.pushed))
		}
		if ev.err != nil {
			attrs = append(attrs, slog.String("err", ev.err.Error()))
		}
		if d := q.dropped.Load(); d != reported {
			attrs = append(attrs, slog.Uint64("log_dropped_total", d))
			reported = d
		}
		q.log.LogAttrs(context.Background(), ev.level, ev.msg, attrs...)
	}
}

// close stops the writer after every event sent so far is written. Later
// sends are harmless: they stay in the queue, unwritten (gnet's logger is
// process-wide, so a stopped node's queue may still be handed messages).
func (q *logq) close() {
	close(q.stop)
	<-q.done
}
