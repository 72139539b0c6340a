package engine

// limits returns the limits in force. Each gnet callback reads them once
// and uses that copy throughout, so a reload never mixes two sets of limits
// within one callback. Any goroutine.
func (s *Server) limits() *Limits { return s.lim.Load() }

// SetLimits replaces the node's limits while it runs (SIGHUP reload); unset
// ones take their defaults. Every limit applies from the next event on each
// connection: max_line to lines not yet framed, max_outbound, max_pending and
// max_paused_inbound at their next check, close_after_reply to the next
// reply. Connections are not dropped. Any goroutine.
func (s *Server) SetLimits(l Limits) {
	l = l.WithDefaults()
	s.lim.Store(&l)
}
