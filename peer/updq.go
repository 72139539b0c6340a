package peer

import (
	"bytes"
	"sync"
)

// updq is a link's queue of updates: AT lines, each with its "\n", copied
// into one byte buffer, so queueing an update allocates nothing (the
// buffers are reused) and holds no pointer into the cache. It keeps at most
// max lines; a push onto a full queue drops the oldest line.
// push may be called on any goroutine; take only by the link's.
type updq struct {
	mu    sync.Mutex
	buf   []byte // lines buf[head:]
	head  int
	n     int
	max   int
	ready chan struct{} // a token when lines are waiting
}

func newUpdq(max int) *updq {
	return &updq{max: max, ready: make(chan struct{}, 1)}
}

// push copies line and its "\n" in. It reports whether it dropped the
// oldest line to make room. Non-blocking.
func (q *updq) push(line []byte) (dropped bool) {
	q.mu.Lock()
	if q.n >= q.max && q.n > 0 {
		q.head += bytes.IndexByte(q.buf[q.head:], '\n') + 1
		q.n--
		dropped = true
	}
	if q.head > 0 && len(q.buf)+len(line)+1 > cap(q.buf) {
		// Reclaim the dropped lines' space before growing.
		q.buf = q.buf[:copy(q.buf, q.buf[q.head:])]
		q.head = 0
	}
	q.buf = append(q.buf, line...)
	q.buf = append(q.buf, '\n')
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return dropped
}

// take returns every waiting line and hands spare (a buffer an earlier
// take returned, or nil) to the queue for what comes next. The lines stay
// valid until the caller passes them back as spare.
func (q *updq) take(spare []byte) (lines []byte, full []byte) {
	q.mu.Lock()
	full = q.buf
	lines = q.buf[q.head:]
	q.buf, q.head, q.n = spare[:0], 0, 0
	q.mu.Unlock()
	return lines, full
}

// len returns the number of waiting lines.
func (q *updq) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// clear drops every waiting line.
func (q *updq) clear() {
	q.mu.Lock()
	q.buf, q.head, q.n = q.buf[:0], 0, 0
	q.mu.Unlock()
	select {
	case <-q.ready:
	default:
	}
}
