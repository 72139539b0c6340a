package admin

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Health is a node's readiness: ready once it listens, while nothing holds
// it back (a snapshot still loading, the offline places index still being
// built) and until it starts draining. Liveness needs nothing: /livez
// answers 200 while the process serves HTTP (the admin port opens before
// the snapshot loads).
// The zero value is a node still starting. Any goroutine.
type Health struct {
	listening atomic.Bool
	draining  atomic.Bool
	mu        sync.Mutex
	holds     []string // reasons not to be ready yet, under mu
}

// SetListening records that the node accepts clients.
func (h *Health) SetListening() { h.listening.Store(true) }

// SetDraining records that the node is shutting down: /readyz turns 503 so
// load balancers stop sending clients before the port closes.
func (h *Health) SetDraining() { h.draining.Store(true) }

// Hold keeps the node not ready, for reason (e.g. "snapshot loading"),
// until the returned release is called; release is idempotent. Snapshot
// loading calls it before the node starts and releases once loaded.
func (h *Health) Hold(reason string) (release func()) {
	h.mu.Lock()
	h.holds = append(h.holds, reason)
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if i := slices.Index(h.holds, reason); i >= 0 {
				h.holds = slices.Delete(h.holds, i, i+1)
			}
		})
	}
}

// Ready reports whether the node is ready, and if not why: draining, the
// first step still holding it (say "snapshot loading"), or starting (not
// listening yet).
func (h *Health) Ready() (bool, string) {
	if h.draining.Load() {
		return false, "draining"
	}
	h.mu.Lock()
	held := ""
	if len(h.holds) > 0 {
		held = h.holds[0]
	}
	h.mu.Unlock()
	switch {
	case held != "":
		return false, held
	case !h.listening.Load():
		return false, "starting"
	}
	return true, "ok"
}
