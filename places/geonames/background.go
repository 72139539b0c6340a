package geonames

import (
	"context"
	"sync"

	"github.com/herdnet/herd/places"
)

// Pending is the offline backend while its Index is built on a goroutine of
// its own (about 0.4 s of CPU for the embedded extract), so that a node
// listens, and answers IAMAT, at once. The build starts with Start (a node
// calls it once it listens, so the two do not compete for the CPU), or with
// the first Nearby. A Nearby that comes before the Index is ready waits for
// it, as long as its ctx allows (the node's places.timeout); OnReady tells
// the node when to report itself ready. Safe for concurrent use.
type Pending struct {
	build   func() (*Index, error)
	started sync.Once
	done    chan struct{} // closed once idx or err is set
	idx     *Index
	err     error

	mu      sync.Mutex
	waiters []func(error) // under mu; nil once done
}

// Later returns the backend that answers with the Index build returns, once
// Start (or a Nearby) has run build, on a goroutine that ends when it does.
func Later(build func() (*Index, error)) *Pending {
	return &Pending{build: build, done: make(chan struct{})}
}

// Start starts the build, once; later calls do nothing.
func (p *Pending) Start() {
	p.started.Do(func() { go p.run() })
}

func (p *Pending) run() {
	idx, err := p.build()
	p.mu.Lock()
	p.idx, p.err = idx, err
	close(p.done)
	waiters := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	for _, f := range waiters {
		f(err)
	}
}

// OnReady calls f once the Index is built, with the error that kept it from
// being built, if any; at once (on the caller's goroutine) if it is done
// already, else on the building goroutine.
func (p *Pending) OnReady(f func(error)) {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		f(p.err)
		return
	default:
	}
	p.waiters = append(p.waiters, f)
	p.mu.Unlock()
}

// Wait returns the Index once it is built (starting the build if nothing
// did), or ctx's error.
func (p *Pending) Wait(ctx context.Context) (*Index, error) {
	select {
	case <-p.done:
		return p.idx, p.err
	default:
	}
	p.Start()
	select {
	case <-p.done:
		return p.idx, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Name implements places.Provider.
func (p *Pending) Name() string { return "geonames" }

// Nearby implements places.Provider: the Index's answer, once it is built.
func (p *Pending) Nearby(ctx context.Context, q places.Query, dst []byte) ([]byte, error) {
	idx, err := p.Wait(ctx)
	if err != nil {
		if ctx.Err() == nil { // the build failed
			err = &places.Error{Status: places.StatusUnknownError, Message: err.Error()}
		}
		return dst, err
	}
	return idx.Nearby(ctx, q, dst)
}
