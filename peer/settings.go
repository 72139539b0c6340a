package peer

import "time"

// Settings tune the links between nodes (the config's peers section). A
// zero field takes its default (DefaultSettings).
type Settings struct {
	// Queue bounds the updates waiting for one neighbour; when it is full the
	// oldest waiting updates are dropped and counted, and the link asks for a
	// digest sync, which repairs them.
	Queue int `yaml:"queue"`
	// BackoffMin and BackoffMax bound the jittered, doubling wait between
	// attempts to reach a neighbour that is down.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// DialTimeout bounds one connection attempt, its TLS and its handshake.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// SyncInterval is how often neighbours compare digests of their caches
	// and send each other what differs (also done when a link comes up, and
	// as soon as a link that dropped updates has drained its queue).
	SyncInterval time.Duration `yaml:"sync_interval"`
	// Tree offers neighbours the spanning-tree push (Plumtree, tree.go):
	// on links whose other end offers it too, each update is pushed along
	// a spanning tree and only announced on the other links, which repair
	// the tree; links to a node without it flood. Off by default: it pays
	// in herds with cycles beyond the five-node ring.
	Tree bool `yaml:"tree"`
}

// DefaultSettings are the settings links run with when none are set.
func DefaultSettings() Settings {
	return Settings{
		Queue:        65536,
		BackoffMin:   50 * time.Millisecond,
		BackoffMax:   2 * time.Second,
		DialTimeout:  2 * time.Second,
		SyncInterval: 30 * time.Second,
	}
}

// WithDefaults returns s with every unset (zero) setting set to its default.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	setDefault(&s.Queue, d.Queue)
	setDefault(&s.BackoffMin, d.BackoffMin)
	setDefault(&s.BackoffMax, d.BackoffMax)
	setDefault(&s.DialTimeout, d.DialTimeout)
	setDefault(&s.SyncInterval, d.SyncInterval)
	return s
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
