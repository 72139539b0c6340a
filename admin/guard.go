package admin

import (
	"net"
	"sync"
)

// guard is the admin port's listener. It bounds the connections one address
// may hold (perAddr) and the port holds in all (total) without ever
// refusing the newest one: when a bound is reached, the oldest connection
// of that address (or, for the total, of the address holding the most) is
// closed to make room. Slow or idle connections are therefore the ones
// that go, and a health probe, which sends its request as soon as it
// connects and is answered within a millisecond, always gets through; to
// push a probe out, a client would have to open perAddr new connections
// from the probe's address while the probe is being answered.
type guard struct {
	net.Listener
	perAddr, total int
	evicted        func() // called once per connection closed to make room

	mu    sync.Mutex
	conns map[string][]*guardConn // by remote IP, oldest first; under mu
	n     int                     // connections held; under mu
}

func newGuard(ln net.Listener, perAddr, total int, evicted func()) *guard {
	return &guard{Listener: ln, perAddr: perAddr, total: total, evicted: evicted, conns: map[string][]*guardConn{}}
}

// Accept accepts the next connection, closing older ones to make room.
func (g *guard) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &guardConn{Conn: c, g: g, ip: remoteIP(c)}
	var out [2]*guardConn
	g.mu.Lock()
	if l := g.conns[gc.ip]; len(l) >= g.perAddr {
		out[0] = l[0]
		g.removeLocked(l[0])
	}
	if g.n >= g.total {
		busiest := ""
		for ip, l := range g.conns {
			if busiest == "" || len(l) > len(g.conns[busiest]) {
				busiest = ip
			}
		}
		if busiest != "" {
			out[1] = g.conns[busiest][0]
			g.removeLocked(out[1])
		}
	}
	g.conns[gc.ip] = append(g.conns[gc.ip], gc)
	g.n++
	g.mu.Unlock()
	for _, v := range out {
		if v != nil {
			_ = v.Conn.Close() // its server goroutine sees the error and ends
			g.evicted()
		}
	}
	return gc, nil
}

// removeLocked forgets c; it reports whether c was held.
func (g *guard) removeLocked(c *guardConn) bool {
	l := g.conns[c.ip]
	for i, x := range l {
		if x == c {
			copy(l[i:], l[i+1:])
			l[len(l)-1] = nil
			if l = l[:len(l)-1]; len(l) == 0 {
				delete(g.conns, c.ip)
			} else {
				g.conns[c.ip] = l
			}
			g.n--
			return true
		}
	}
	return false
}

type guardConn struct {
	net.Conn
	g  *guard
	ip string
}

// Close forgets the connection and closes it; safe twice.
func (c *guardConn) Close() error {
	c.g.mu.Lock()
	c.g.removeLocked(c)
	c.g.mu.Unlock()
	return c.Conn.Close()
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// Exposed reports whether an admin port listening on addr (host:port) can
// be reached from other hosts: its host is not a loopback address (a
// wildcard, a non-loopback IP, or a name other than localhost).
func Exposed(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
