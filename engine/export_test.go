package engine

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// BreakableForTest returns a func that shuts s's listening socket down
// under gnet, so that its next accept fails as with EMFILE and the reactor
// stops on its own. Call the func after Start. It finds the socket among
// the process's descriptors by its address rather than through gnet's Dup,
// which would race (for the race detector) with gnet closing the listener
// once the shutdown makes it stop.
func BreakableForTest(s *Server) func() error {
	return func() error {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return err
		}
		for _, e := range ents {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
				continue
			}
			sa, err := unix.Getsockname(fd)
			if err != nil || sockaddrString(sa, "") != s.Addr() {
				continue
			}
			return unix.Shutdown(fd, unix.SHUT_RD)
		}
		return fmt.Errorf("no listening socket at %s", s.Addr())
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
