package load

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// dialParallel is how many dials are in flight at once while opening
// connections, so a listen backlog is not overrun by thousands at once.
const dialParallel = 128

// dialAll opens n connections to addr, dialParallel at a time. On error it
// closes the ones it opened and returns the first error.
func dialAll(ctx context.Context, addr string, n int, timeout time.Duration) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	d := net.Dialer{Timeout: timeout}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, dialParallel)
	)
	for i := range conns {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				once.Do(func() { firstErr = fmt.Errorf("load: connection %d of %d: %w", i+1, n, err); cancel() })
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		closeAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// HoldIdle opens n idle connections to addr (in 127.0.0.0/8), for
// measuring what an idle connection costs the server, and returns a
// function that closes them all. It sends nothing. The connections stay
// open until closeFn is called, whatever happens to ctx afterwards; ctx
// bounds only the dialing.
func HoldIdle(ctx context.Context, addr string, n int) (closeFn func(), err error) {
	addr, err = loopbackAddr(addr)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > MaxConns {
		return nil, fmt.Errorf("load: idle connections %d out of range 1..%d", n, MaxConns)
	}
	if err := raiseNoFile(n); err != nil {
		return nil, err
	}
	conns, err := dialAll(ctx, addr, n, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { closeAll(conns) }) }, nil
}
