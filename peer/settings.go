package peer

import "time"

// Settings tune the links between nodes (the config's peers section). A
// zero field takes its default (DefaultSettings).
type Settings struct {
	// BackoffMin and BackoffMax bound the jittered, doubling wait between
	// attempts to reach a neighbour that is down.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// DialTimeout bounds one connection attempt, its TLS and its handshake.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// SyncInterval is how often neighbours compare digests of their caches
	// and send each other what differs (also done when a link comes up).
	SyncInterval time.Duration `yaml:"sync_interval"`
	// Heartbeat is the longest a link stays silent: each side writes a
	// PING when it wrote nothing else for this long (liveness.go).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Timeout is how long a link may hear nothing from a neighbour that
	// pings before it is declared down, closed and redialled.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultSettings are the settings links run with when none are set.
func DefaultSettings() Settings {
	return Settings{
		BackoffMin:   50 * time.Millisecond,
		BackoffMax:   2 * time.Second,
		DialTimeout:  2 * time.Second,
		SyncInterval: 30 * time.Second,
		Heartbeat:    time.Second,
		Timeout:      5 * time.Second,
	}
}

// WithDefaults returns s with every unset (zero) setting set to its default.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	setDefault(&s.BackoffMin, d.BackoffMin)
	setDefault(&s.BackoffMax, d.BackoffMax)
	setDefault(&s.DialTimeout, d.DialTimeout)
	setDefault(&s.SyncInterval, d.SyncInterval)
	setDefault(&s.Heartbeat, d.Heartbeat)
	setDefault(&s.Timeout, d.Timeout)
	return s
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
