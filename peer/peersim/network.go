package peersim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// ErrUnreachable is a dial across a partition or to an address nobody
// listens on.
var ErrUnreachable = errors.New("peersim: no route to the address")

// Network is an in-memory network, after memberlist's MockNetwork: Listen
// gives a node a net.Listener at an address, Dialer a peer.Dialer that
// connects to it over net.Pipe. Every byte written is counted, and
// Partition cuts the network in two until Heal. Safe on any goroutine.
type Network struct {
	mu    sync.Mutex
	lns   map[string]*listener // by address
	conns map[*conn]struct{}
	side  map[string]int // node name to its side of a partition; nil: whole

	bytes atomic.Uint64
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{lns: map[string]*listener{}, conns: map[*conn]struct{}{}}
}

// Bytes returns the bytes written on every connection so far, both ways.
func (n *Network) Bytes() uint64 { return n.bytes.Load() }

// Listen returns the listener of node name at addr.
func (n *Network) Listen(name, addr string) (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.lns[addr]; ok {
		return nil, fmt.Errorf("peersim: %s: address in use", addr)
	}
	ln := &listener{net: n, name: name, addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
	n.lns[addr] = ln
	return ln, nil
}

// Dialer returns the dial function of node from: a peer.Dialer.
func (n *Network) Dialer(from string) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		n.mu.Lock()
		ln, ok := n.lns[addr]
		if ok && n.side != nil && n.side[from] != n.side[ln.name] {
			ok = false
		}
		n.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("%w %s", ErrUnreachable, addr)
		}
		p1, p2 := net.Pipe()
		local := &conn{Conn: p1, net: n, from: from, to: ln.name, local: memAddr(from), remote: memAddr(addr)}
		accepted := &conn{Conn: p2, net: n, from: ln.name, to: from, local: memAddr(addr), remote: memAddr(from)}
		if !n.track(local, accepted) {
			return nil, fmt.Errorf("%w %s", ErrUnreachable, addr)
		}
		select {
		case ln.ch <- accepted:
			return local, nil
		case <-ln.done:
		case <-ctx.Done():
		}
		local.Close()
		accepted.Close()
		return nil, fmt.Errorf("%w %s", ErrUnreachable, addr)
	}
}

func (n *Network) track(cs ...*conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range cs {
		if n.side != nil && n.side[c.from] != n.side[c.to] {
			return false
		}
	}
	for _, c := range cs {
		n.conns[c] = struct{}{}
	}
	return true
}

// Partition cuts the network in two: side reports each node's side, and
// from now on no connection crosses between them (those open are closed,
// dials fail) until Heal.
func (n *Network) Partition(names []string, side func(name string) int) {
	n.mu.Lock()
	n.side = make(map[string]int, len(names))
	for _, name := range names {
		n.side[name] = side(name)
	}
	var cut []*conn
	for c := range n.conns {
		if n.side[c.from] != n.side[c.to] {
			cut = append(cut, c)
		}
	}
	n.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

// Heal ends the partition.
func (n *Network) Heal() {
	n.mu.Lock()
	n.side = nil
	n.mu.Unlock()
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// conn is one end of a connection: it counts what is written and leaves
// the network's books when closed.
type conn struct {
	net.Conn
	net           *Network
	from, to      string
	local, remote net.Addr
	once          sync.Once
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.net.bytes.Add(uint64(n))
	return n, err
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.net.mu.Lock()
		delete(c.net.conns, c)
		c.net.mu.Unlock()
	})
	return c.Conn.Close()
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

type listener struct {
	net        *Network
	name, addr string
	ch         chan net.Conn
	done       chan struct{}
	once       sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.net.mu.Lock()
		delete(l.net.lns, l.addr)
		l.net.mu.Unlock()
	})
	return nil
}

func (l *listener) Addr() net.Addr { return memAddr(l.addr) }
