package engine

import (
	"time"

	"github.com/herdnet/herd/codec"
)

// Limits bound what one connection, and all of them, may cost a node. A
// zero field takes its default (DefaultLimits). SetLimits replaces them
// while the server runs; MaxConns and the timeouts are read once, at New
// (WithFixed).
type Limits struct {
	// MaxLine is the longest line accepted, in bytes (without "\n").
	MaxLine int `yaml:"max_line"`
	// MaxOutbound is how many reply bytes may wait for a client that does
	// not read before the node closes its connection.
	MaxOutbound int `yaml:"max_outbound"`
	// CloseAfterReply closes each client connection after its reply, for
	// clients that read until EOF.
	CloseAfterReply bool `yaml:"close_after_reply"`
	// MaxPending is how many replies may wait behind a connection's running
	// WHATSATs before the node stops reading that connection.
	MaxPending int `yaml:"max_pending"`
	// MaxPausedInbound is how many unread bytes a connection may pile up
	// while its reading is paused before the node closes it.
	MaxPausedInbound int `yaml:"max_paused_inbound"`
	// MaxOutputTotal bounds the reply bytes owed to all clients of a node;
	// past it the connections owing the most are closed first.
	MaxOutputTotal int `yaml:"max_output_total"`

	// MaxConns bounds the client connections of one node; a connection past
	// it is closed at once and counted. Peer links do not count. 0: auto,
	// three quarters of the node's share of the fd limit, less 64.
	MaxConns int `yaml:"max_conns"`
	// IdleTimeout closes a client connection that sent no complete line for
	// this long (peer links are exempt); a negative value turns it off.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// LineTimeout closes a connection whose partial line waits longer than
	// this for its newline (slowloris).
	LineTimeout time.Duration `yaml:"line_timeout"`
	// WriteTimeout closes a connection whose owed output makes no progress
	// for this long.
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// DefaultLimits are the limits a node runs with when none are set.
func DefaultLimits() Limits {
	return Limits{
		MaxLine:          codec.DefaultMaxLine,
		MaxOutbound:      4 << 20,
		MaxPending:       256,
		MaxPausedInbound: 1 << 20,
		MaxOutputTotal:   256 << 20,
		IdleTimeout:      5 * time.Minute,
		LineTimeout:      30 * time.Second,
		WriteTimeout:     30 * time.Second,
	}
}

// WithDefaults returns l with every unset (zero) limit set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	setDefault(&l.MaxLine, d.MaxLine)
	setDefault(&l.MaxOutbound, d.MaxOutbound)
	setDefault(&l.MaxPending, d.MaxPending)
	setDefault(&l.MaxPausedInbound, d.MaxPausedInbound)
	setDefault(&l.MaxOutputTotal, d.MaxOutputTotal)
	setDefault(&l.IdleTimeout, d.IdleTimeout)
	setDefault(&l.LineTimeout, d.LineTimeout)
	setDefault(&l.WriteTimeout, d.WriteTimeout)
	return l
}

// WithFixed returns l with the limits a server reads only at New (MaxConns
// and the timeouts) taken from running: what SetLimits(l) leaves in force.
func (l Limits) WithFixed(running Limits) Limits {
	l.MaxConns = running.MaxConns
	l.IdleTimeout, l.LineTimeout, l.WriteTimeout = running.IdleTimeout, running.LineTimeout, running.WriteTimeout
	return l
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
