package engine

import (
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// BreakableForTest makes s keep a duplicate of its listening socket (taken
// in OnBoot, before gnet could close it) and returns a func that shuts that
// socket down under gnet, so that its next accept fails as with EMFILE and
// the reactor stops on its own. Call before Start.
func BreakableForTest(s *Server) func() error {
	fd := make(chan int, 1)
	s.onBoot = func(eng gnet.Engine) {
		d, err := eng.Dup()
		if err != nil {
			d = -1
		}
		fd <- d
	}
	return func() error {
		d := <-fd
		if d < 0 {
			return unix.EBADF
		}
		defer unix.Close(d)
		return unix.Shutdown(d, unix.SHUT_RD)
	}
}

// QueuedWhatsats is how many WHATSATs wait for a worker.
func QueuedWhatsats(s *Server) int { return len(s.work.jobs) }

// ClosedWriteTimeout is how many connections write_timeout closed.
func ClosedWriteTimeout(s *Server) uint64 { return s.closed.writeTimeout.Load() }
