package peer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/internal/logq"
)

// serveInbound runs a link a neighbour opened to this node: the handshake
// (with the secret's proof, and over TLS on the peer port), then the
// neighbour's updates, applied through the node, and its sync requests,
// answered with this node's digest. Its goroutine owns conn.
func (ls *Links) serveInbound(conn net.Conn, head []byte) {
	select {
	case <-ls.ready:
	case <-ls.ctx.Done():
		return
	}
	tuneSocket(conn, ls.p.Heartbeat, ls.p.Timeout)
	lr := &liveReader{c: conn, timeout: ls.p.Timeout}
	var src io.Reader = lr
	if len(head) > 0 {
		src = io.MultiReader(bytes.NewReader(head), lr)
	}
	r := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(&deadlineWriter{conn, ls.p.Timeout}, 64<<10)
	remote := conn.RemoteAddr().String()
	_ = conn.SetReadDeadline(timeNow().Add(ls.p.DialTimeout))
	name, err := ls.acceptHandshake(r, w, certNames(conn))
	if err != nil {
		lvl := slog.LevelWarn
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrCertName) {
			lvl = slog.LevelError
		}
		ls.log.Send(logq.Event{Level: lvl, Msg: "inbound link refused", Peer: name, Remote: remote, Err: err})
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "neighbour linked in", Peer: name, Remote: remote})
	ls.wake(name)
	// This side writes only sync answers and pings; wmu orders them.
	var wmu sync.Mutex
	stop := make(chan struct{})
	defer close(stop)
	ls.goFunc(func() { ls.pingInbound(conn, w, &wmu, stop) })

	node := ls.node
	var cmd codec.Command
	var dst []byte
	var bits uint = minBucketBits
	var refused uint64
	warmed := 0 // buffered bytes whose lookups are warmed
	for {
		if warmed <= 0 && r.Buffered() > 0 {
			// A neighbour's stream is a batch of AT lines about as many
			// clients as the herd has: touch their cache memory together
			// (herd.Node.Warm), as the engine does for a client's read.
			buf, _ := r.Peek(r.Buffered())
			warmed = node.Cache().Warm(buf)
		}
		before := r.Buffered()
		line, err := readLine(r)
		if used := before - r.Buffered(); used > 0 {
			warmed -= used
		} else {
			warmed = 0 // the reader refilled its buffer
		}
		if err != nil {
			if refused > 0 {
				ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "updates refused: origin is no node of the herd", Peer: name, Total: refused})
			}
			if silent(err) {
				ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "neighbour link closed: the neighbour was silent for peers.timeout", Peer: name})
				return
			}
			ls.log.Send(logq.Event{Level: slog.LevelInfo, Msg: "neighbour link closed", Peer: name, Err: quiet(err)})
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("AT ")):
			if codec.Parse(line, &cmd) != nil || cmd.Kind != codec.KindAT {
				continue
			}
			if dst = node.Update(dst[:0], &cmd, name); bytes.HasPrefix(dst, []byte("? ")) {
				if refused++; refused == 1 {
					ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "update refused: origin is no node of the herd", Peer: name, Data: append([]byte(nil), line...)})
				}
			}
		case bytes.HasPrefix(line, []byte("SYNC ")):
			wmu.Lock()
			bits, err = ls.answerSync(w, line)
			wmu.Unlock()
		case bytes.HasPrefix(line, []byte("WANT ")):
			wmu.Lock()
			err = ls.answerWant(r, w, line, bits)
			wmu.Unlock()
		case string(line) == pingLine:
			lr.armed.Store(true)
		}
		if err != nil {
			ls.log.Send(logq.Event{Level: slog.LevelWarn, Msg: "neighbour link closed", Peer: name, Err: err})
			return
		}
	}
}

// pingInbound writes PING on an inbound link every heartbeat until stop is
// closed; a write that fails closes the connection, which ends the link.
func (ls *Links) pingInbound(conn net.Conn, w *bufio.Writer, wmu *sync.Mutex, stop <-chan struct{}) {
	t := time.NewTicker(ls.p.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ls.ctx.Done():
			return
		case <-t.C:
			wmu.Lock()
			err := writeLine(w, pingLine)
			wmu.Unlock()
			if err != nil {
				conn.Close()
				return
			}
		}
	}
}

func quiet(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// answerSync answers "SYNC bits count root" with this node's DIGEST.
func (ls *Links) answerSync(w *bufio.Writer, line []byte) (uint, error) {
	var f [maxFields][]byte
	if fields(line, &f) != 4 {
		return 0, errBadSync
	}
	b, err1 := strconv.Atoi(string(f[1]))
	count, err2 := strconv.ParseUint(string(f[2]), 10, 64)
	root, err3 := strconv.ParseUint(string(f[3]), 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || b < minBucketBits || b > maxBucketBits {
		return 0, errBadSync
	}
	mine, myRoot := ls.root()
	var payload []byte
	// Nothing to do when the sender has nothing, when we have nothing (it
	// then sends everything), or when both hold the same.
	if count != 0 && mine != 0 && (count != mine || root != myRoot) {
		d := ls.digestOf(uint(b))
		payload = appendU64s(make([]byte, 0, 8*len(d.sums)), d.sums)
	}
	return uint(b), writeBlob(w, "DIGEST", []string{strconv.FormatUint(mine, 10)}, payload)
}

// answerWant answers "WANT n" and its bucket numbers with HAVE and the
// hashes of this node's entries in those buckets.
func (ls *Links) answerWant(r *bufio.Reader, w *bufio.Writer, line []byte, b uint) error {
	var f [maxFields][]byte
	if fields(line, &f) != 2 {
		return errBadSync
	}
	payload, err := readBlob(r, f[1], 4<<maxBucketBits, 4)
	if err != nil {
		return err
	}
	hs := ls.hashesIn(b, bucketSet(b, u32s(payload)))
	return writeBlob(w, "HAVE", nil, appendU64s(make([]byte, 0, 8*len(hs)), hs))
}
