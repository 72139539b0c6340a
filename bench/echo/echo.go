// Package echo is the benchmarks' limit reference: a minimal multicore gnet
// server that writes every complete line it receives straight back, with no
// parsing, no cache and no logging. Whatever a herd node does beyond moving
// lines costs the difference between its numbers and these.
package echo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// MaxPending bounds the bytes of an unfinished line a connection may hold;
// past it the connection is closed, so a client that never sends a newline
// cannot grow a buffer without limit.
const MaxPending = 64 << 10

// Server is a running echo server. Start creates it; Addr and Stop may be
// called from any goroutine.
type Server struct {
	gnet.BuiltinEventEngine

	eng    gnet.Engine
	addr   string
	booted chan struct{}
	runErr chan error
}

// Start listens on addr (host:port; port 0 picks a free one) with one event
// loop per core and returns once connections are accepted.
func Start(addr string) (*Server, error) {
	s := &Server{booted: make(chan struct{}), runErr: make(chan error, 1)}
	s.addr = addr
	go func() {
		s.runErr <- gnet.Run(s, "tcp://"+addr,
			gnet.WithMulticore(true),
			gnet.WithReusePort(false),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		)
	}()
	select {
	case <-s.booted:
		return s, nil
	case err := <-s.runErr:
		return nil, fmt.Errorf("echo: listen on %s: %w", addr, err)
	}
}

// Addr is the address the server listens on, with the real port.
func (s *Server) Addr() string { return s.addr }

// Stop stops the event loops and waits for them; ctx bounds the wait.
func (s *Server) Stop(ctx context.Context) error {
	err := s.eng.Stop(ctx)
	if err == nil {
		select {
		case err = <-s.runErr:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// OnBoot records the engine and the bound address. Runs once.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			if a, ok := sa.(*unix.SockaddrInet4); ok {
				s.addr = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
			} else if a, ok := sa.(*unix.SockaddrInet6); ok {
				s.addr = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
			}
		}
		unix.Close(fd)
	}
	close(s.booted)
	return gnet.None
}

// OnTraffic writes back every complete line in the buffer with one write and
// keeps a trailing partial line for later. Event loop only.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	n := bytes.LastIndexByte(buf, '\n') + 1
	if n == 0 {
		if len(buf) > MaxPending {
			return gnet.Close
		}
		return gnet.None
	}
	// Write copies whatever the socket does not take at once, so buf may be
	// discarded right after.
	_, _ = c.Write(buf[:n])
	_, _ = c.Discard(n) // n > 0: gnet's Discard(0) would drop everything
	return gnet.None
}
