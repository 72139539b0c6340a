package echo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// GoroutineServer is Server's counterpart on one goroutine per connection
// (Go's net package and its poller): the same work, one read and one write
// of every complete line per batch, and nothing else. The pair gives the
// I/O models' own costs: what a node built on either spends beyond them is
// its command work.
type GoroutineServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

// StartGoroutine listens on addr (host:port; port 0 picks a free one) and
// serves each connection on its own goroutine.
func StartGoroutine(addr string) (*GoroutineServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("echo: listen on %s: %w", addr, err)
	}
	s := &GoroutineServer{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the server listens on, with the real port.
func (s *GoroutineServer) Addr() string { return s.ln.Addr().String() }

func (s *GoroutineServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed by Stop
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// serve echoes every complete line it has with one write, keeping a
// trailing partial line (up to MaxPending bytes) for the next read.
func (s *GoroutineServer) serve(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
		s.wg.Done()
	}()
	buf := make([]byte, MaxPending)
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		end := bytes.LastIndexByte(buf[:have], '\n') + 1
		if end == 0 {
			if have == len(buf) {
				return // a line longer than MaxPending
			}
			continue
		}
		if _, err := c.Write(buf[:end]); err != nil {
			return
		}
		have = copy(buf, buf[end:have])
	}
}

// Stop closes the listener and every connection and waits for their
// goroutines; ctx bounds the wait.
func (s *GoroutineServer) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.done = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	select {
	case <-waited:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
