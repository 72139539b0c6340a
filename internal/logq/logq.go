package logq

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
)

// Queue moves log records off the event loops: loops enqueue small events
// without blocking (dropping and counting them when the queue is full) and
// one goroutine hands them to the slog.Logger, which may block on disk.
type Queue struct {
	log     *slog.Logger
	lines   bool // log every line received and sent (Debug enabled)
	ch      chan Event
	dropped atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
}

// Event is one log record. Only the fields that are set become attributes.
type Event struct {
	Level  slog.Level
	Msg    string
	Conn   uint64 // connection id
	Peer   string // neighbour name
	Remote string // remote address
	Data   []byte // a line received or sent; cut to MaxData bytes when written
	Err    error
	Len    int // length of the whole line when Data was cut
	Pushed int // entries pushed when a link came up
	// Count and Total are a counter's increase since the last summary
	// and its total (updates dropped, entries sent by a sync).
	Count, Total uint64
	// Snippet is set for a refused line: Data is written quoted, as
	// "snippet", cut to SnippetLen bytes.
	Snippet bool
	// Attrs are further attributes (summaries, start-up figures); for rare
	// events only, as building them allocates.
	Attrs []slog.Attr
}

// SnippetLen is the longest prefix of a refused line that is logged.
const SnippetLen = 64

// MaxData is the longest prefix of Event.Data written to the log; a longer
// line (a WHATSAT reply is often 10-20 KB) is cut and its length logged
// beside it, so logs do not grow with replies.
const MaxData = 200

const queueLen = 1 << 14

// New returns a queue writing to l. Call Run on a goroutine of its own, and
// Close when done.
func New(l *slog.Logger) *Queue {
	return &Queue{
		log:   l,
		lines: l.Enabled(context.Background(), slog.LevelDebug),
		ch:    make(chan Event, queueLen),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// Send enqueues ev without blocking. Safe on any goroutine.
func (q *Queue) Send(ev Event) {
	select {
	case q.ch <- ev:
	default:
		q.dropped.Add(1)
	}
}

// Line logs, at debug level, a line received ("recv") or sent ("send") on a
// connection, copying at most MaxData bytes of it. It does nothing, and
// allocates nothing, when debug logging is off.
func (q *Queue) Line(msg string, conn uint64, peer string, data []byte) {
	if !q.lines {
		return
	}
	q.Send(Event{Level: slog.LevelDebug, Msg: msg, Conn: conn, Peer: peer, Data: cut(data), Len: len(data)})
}

// Rejected logs, at debug level, a line answered "? line" and why (reason,
// usually the codec's parse error), with a short quoted snippet of it. It
// does nothing, and allocates nothing, when debug logging is off.
func (q *Queue) Rejected(conn uint64, peer string, reason error, line []byte) {
	if !q.lines {
		return
	}
	snip := append([]byte(nil), line[:min(len(line), SnippetLen)]...)
	q.Send(Event{Level: slog.LevelDebug, Msg: "rejected", Conn: conn, Peer: peer, Err: reason, Data: snip, Len: len(line), Snippet: true})
}

func cut(data []byte) []byte {
	return append([]byte(nil), data[:min(len(data), MaxData)]...)
}

// Run writes events until close is called and the queue is drained.
func (q *Queue) Run() {
	defer close(q.done)
	var reported uint64
	attrs := make([]slog.Attr, 0, 6)
	for {
		var ev Event
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
		if ev.Conn != 0 {
			attrs = append(attrs, slog.Uint64("conn", ev.Conn))
		}
		if ev.Peer != "" {
			attrs = append(attrs, slog.String("peer", ev.Peer))
		}
		if ev.Remote != "" {
			attrs = append(attrs, slog.String("remote", ev.Remote))
		}
		if ev.Snippet {
			attrs = append(attrs, slog.String("snippet", strconv.Quote(string(ev.Data))))
			if ev.Len > len(ev.Data) {
				attrs = append(attrs, slog.Int("len", ev.Len))
			}
		} else if ev.Data != nil {
			if len(ev.Data) > MaxData {
				ev.Len, ev.Data = len(ev.Data), ev.Data[:MaxData]
			}
			attrs = append(attrs, slog.String("line", string(ev.Data)))
			if ev.Len > len(ev.Data) {
				attrs = append(attrs, slog.Int("len", ev.Len))
			}
		}
		if ev.Pushed != 0 {
			attrs = append(attrs, slog.Int("pushed", ev.Pushed))
		}
		if ev.Count != 0 || ev.Total != 0 {
			attrs = append(attrs, slog.Uint64("count", ev.Count), slog.Uint64("total", ev.Total))
		}
		if ev.Err != nil {
			attrs = append(attrs, slog.String("err", ev.Err.Error()))
		}
		attrs = append(attrs, ev.Attrs...)
		if d := q.dropped.Load(); d != reported {
			attrs = append(attrs, slog.Uint64("log_dropped_total", d))
			reported = d
		}
		q.log.LogAttrs(context.Background(), ev.Level, ev.Msg, attrs...)
	}
}

// Enabled reports whether the logger writes records at level.
func (q *Queue) Enabled(level slog.Level) bool {
	return q.log.Enabled(context.Background(), level)
}

// Dropped is the number of events dropped because the queue was full.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Close stops the writer after every event sent so far is written. Later
// sends are harmless: they stay in the queue, unwritten (gnet's logger is
// process-wide, so a stopped node's queue may still be handed messages).
func (q *Queue) Close() {
	close(q.stop)
	<-q.done
}
