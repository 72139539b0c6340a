package engine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
)

// fuzzMaxLine is the fuzzed node's line limit: small, so over-long lines
// are common.
const fuzzMaxLine = 64

// FuzzNode drives a whole node (engine and herd.Node over loopback) with
// arbitrary byte streams on three connections at once (the input is split
// at 0xFF bytes), each half-closed at its end. The node must not panic,
// must answer every line exactly once and in order ("? line" for what does
// not parse; an AT line or "? line" for what does), close after an
// over-long line, and change its cache only by valid, newer updates: a
// client's final entry is the newest of what it held before and the AT
// lines it sent back.
func FuzzNode(f *testing.F) {
	for _, seed := range []string{
		"IAMAT kiwi +34.068930-118.445127 1479413884.392014450\n",
		"IAMAT kiwi +1.0+1.0 5\nIAMAT kiwi +1.0+1.0 4\n\xffIAMAT kiwi +2.0+2.0 6\n\xffWHATSAT kiwi 10 5\nLLL",
		"AT Ball +0.000000001 kiwi +1.0+1.0 7\n\r\n   \nIAMAT  kiwi\t+1.0+1.0  8 \r\n",
		"IAMAT far +1.0+1.0 999999999999999999.0\nIAMAT x +91.0+1.0 1\n",
		"IAMAT long-long-long-long-long-long-long-long-long-long-long +1.0+1.0 1\nIAMAT after +1.0+1.0 1\n",
		"\xff\xff",
		"PEER Ball\nAT Ball +0.0 k +1.0+1.0 1\n",
	} {
		f.Add([]byte(seed))
	}
	node := herd.NewNode(herd.NodeOptions{Name: "Fuzz"})
	s := engine.New(node, engine.Config{Listen: "127.0.0.1:0", Loops: 2, Limits: engine.Limits{MaxLine: fuzzMaxLine}})
	if err := s.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		// A PEER handshake turns a connection into a link whose AT lines get
		// no reply; keep every connection a client's.
		data = bytes.ReplaceAll(data, []byte("PEER"), []byte("PEEX"))
		streams := bytes.SplitN(data, []byte{0xFF}, 3)
		// What each client held before, for every client the input names.
		before := map[string][]byte{}
		var cmd codec.Command
		for _, st := range streams {
			for _, l := range expectLines(st) {
				if codec.Parse(l.line, &cmd) == nil && (cmd.Kind == codec.KindIAMAT || cmd.Kind == codec.KindAT) {
					id := string(cmd.ClientID)
					if e := node.Lookup(cmd.ClientID); e != nil {
						before[id] = bytes.Clone(e.Line)
					} else if _, ok := before[id]; !ok {
						before[id] = nil
					}
				}
			}
		}
		outs := make([][]byte, len(streams))
		errs := make([]error, len(streams))
		var wg sync.WaitGroup
		for i, st := range streams {
			wg.Go(func() { outs[i], errs[i] = exchangeAll(s.Addr(), st) })
		}
		wg.Wait()
		sent := map[string][][]byte{} // AT lines the node answered, per client
		for i, st := range streams {
			want := expectLines(st)
			// Closed after an over-long line with input unread, the node's
			// socket may reset ours once the reply is read.
			overlong := len(want) > 0 && want[len(want)-1].tooLong
			if errs[i] != nil && !(overlong && errors.Is(errs[i], syscall.ECONNRESET)) {
				t.Fatalf("stream %d %q: %v", i, st, errs[i])
			}
			got := bytes.SplitAfter(outs[i], []byte("\n"))
			if len(got[len(got)-1]) == 0 {
				got = got[:len(got)-1]
			}
			if len(got) != len(want) {
				t.Fatalf("stream %d %q: %d replies %q for %d lines", i, st, len(got), outs[i], len(want))
			}
			for j, l := range want {
				r := got[j]
				invalid := append(append([]byte("? "), l.line...), '\n')
				if l.tooLong || codec.Parse(l.line, &cmd) != nil {
					if !bytes.Equal(r, invalid) {
						t.Fatalf("stream %d line %q: reply %q, want %q", i, l.line, r, invalid)
					}
					continue
				}
				if bytes.Equal(r, invalid) {
					continue // a WHATSAT (no places here), a far-future IAMAT
				}
				var rc codec.Command
				if codec.Parse(r[:len(r)-1], &rc) != nil || rc.Kind != codec.KindAT || !bytes.Equal(rc.ClientID, cmd.ClientID) {
					t.Fatalf("stream %d line %q: reply %q is not an AT line about the client", i, l.line, r)
				}
				sent[string(rc.ClientID)] = append(sent[string(rc.ClientID)], r[:len(r)-1])
			}
		}
		for id, lines := range sent {
			e := node.Lookup([]byte(id))
			if e == nil {
				t.Fatalf("client %q answered with AT lines but not held", id)
			}
			newest := before[id]
			for _, l := range lines {
				if newest == nil || newer(l, newest) {
					newest = l
				}
			}
			if !bytes.Equal(e.Line, newest) {
				t.Fatalf("client %q holds %q; the newest of what it held (%q) and the replies %q is %q", id, e.Line, before[id], lines, newest)
			}
		}
	})
}

// newer reports whether AT line a wins over b: a later time, or the same
// time and larger bytes.
func newer(a, b []byte) bool {
	var ca, cb codec.Command
	if codec.Parse(a, &ca) != nil || codec.Parse(b, &cb) != nil {
		return false
	}
	if c := ca.Stamp.Compare(cb.Stamp); c != 0 {
		return c > 0
	}
	return bytes.Compare(a, b) > 0
}

type expected struct {
	line    []byte
	tooLong bool // answered "? " + the first fuzzMaxLine bytes, then closed
}

// expectLines frames a stream as the node does: complete lines, then the
// bytes left at the half-close as a last line; an over-long line ends it.
func expectLines(st []byte) []expected {
	var out []expected
	for {
		line, n, err := codec.NextLine(st, fuzzMaxLine)
		if err == codec.ErrLineTooLong {
			return append(out, expected{line: st[:min(len(st), fuzzMaxLine)], tooLong: true})
		}
		if err == codec.ErrNeedMore {
			break
		}
		out = append(out, expected{line: line})
		st = st[n:]
	}
	line, err := codec.LastLine(st, fuzzMaxLine)
	switch err {
	case nil:
		out = append(out, expected{line: line})
	case codec.ErrLineTooLong:
		out = append(out, expected{line: st[:fuzzMaxLine], tooLong: true})
	}
	return out
}

// exchangeAll sends st on a new connection, half-closes, and returns all
// the node sent back until it closed.
func exchangeAll(addr string, st []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(st)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	out, err := io.ReadAll(c)
	if werr := <-errc; err == nil && werr != nil && !bytes.Contains(out, []byte("? ")) {
		err = werr
	}
	return out, err
}
