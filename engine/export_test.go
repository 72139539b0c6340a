package engine

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// BreakableForTest returns a func that shuts s's listening socket down
// under gnet, so that its next accept fails as with EMFILE and the reactor
// stops on its own. Call the func after Start. It finds the socket among
// the process's descriptors (Linux), rather than through gnet's listener,
// which gnet closes when its reactor stops.
func BreakableForTest(s *Server) func() error {
	return func() error {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return err
		}
		for _, e := range fds {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || on != 1 {
				continue
			}
			if sa, err := unix.Getsockname(fd); err == nil && sockaddrString(sa, "") == s.Addr() {
				return unix.Shutdown(fd, unix.SHUT_RD)
			}
		}
		return errors.New("engine: no listening socket at " + s.Addr())
	}
}

// Clients is the number of connections counting against max_conns.
func (s *Server) Clients() int64 { return s.clients.Load() }

// Owed is the output bytes gnet holds for all the node's connections, as of
// each connection's last event.
func (s *Server) Owed() int64 { return s.owed.Load() }

// QueuedWhatsats is how many WHATSATs wait for a worker.
func QueuedWhatsats(s *Server) int { return len(s.work.jobs) }

// ClosedWriteTimeout is how many connections write_timeout closed.
func ClosedWriteTimeout(s *Server) uint64 { return s.closed.writeTimeout.Load() }
