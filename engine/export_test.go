package engine

import "golang.org/x/sys/unix"

// BreakableForTest returns a func that shuts s's listening socket down
// under gnet, so that its next accept fails as with EMFILE and the reactor
// stops on its own. Call the func after Start.
func BreakableForTest(s *Server) func() error {
	return func() error {
		d, err := s.eng.Dup()
		if err != nil {
			return err
		}
		defer unix.Close(d)
		return unix.Shutdown(d, unix.SHUT_RD)
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
