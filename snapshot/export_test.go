package snapshot

// For the tests: what a Store has done.

// Path is the snapshot file.
func (s *Store) Path() string { return s.path }

// Ready is closed once Restore has finished, whatever it found.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// IsReady reports whether Restore has finished.
func (s *Store) IsReady() bool { return s.done.Load() }

// Last returns the last snapshot this Store wrote, if any.
func (s *Store) Last() (Info, bool) {
	if p := s.last.Load(); p != nil {
		return *p, true
	}
	return Info{}, false
}
