package config_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/peer"
)

// TestSectionsTakeTheirPackagesDefaults: a file that sets nothing but its
// nodes runs with the defaults engine, peer and herd define, and an
// explicit zero means the default too.
func TestSectionsTakeTheirPackagesDefaults(t *testing.T) {
	c, err := config.Parse([]byte("nodes:\n  - {name: A, listen: 127.0.0.1:1}\nlimits: {max_line: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.Limits != engine.DefaultLimits() {
		t.Errorf("limits %+v, want engine.DefaultLimits %+v", c.Limits.Limits, engine.DefaultLimits())
	}
	if c.Peers != peer.DefaultSettings() {
		t.Errorf("peers %+v, want peer.DefaultSettings %+v", c.Peers, peer.DefaultSettings())
	}
	d := herd.DefaultNodeOptions()
	if c.Limits.MaxFuture != d.MaxFuture || c.Places.Timeout != d.PlacesTimeout || c.Places.MaxInFlight != d.MaxInFlight {
		t.Errorf("max_future %v, places %+v, want herd's defaults %+v", c.Limits.MaxFuture, c.Places, d)
	}
	if c.Limits.ShutdownTimeout != config.DefaultShutdownTimeout {
		t.Errorf("shutdown_timeout %v", c.Limits.ShutdownTimeout)
	}
}

// TestEveryDurationKeyNamed: a bad duration is reported by its key,
// whichever section holds it (the keys are found from the types).
func TestEveryDurationKeyNamed(t *testing.T) {
	for _, key := range []string{"limits.idle_timeout", "limits.line_timeout", "limits.write_timeout",
		"limits.shutdown_timeout", "limits.max_future", "peers.backoff_min", "peers.backoff_max", "peers.dial_timeout",
		"peers.sync_interval", "places.timeout", "persistence.snapshot_interval"} {
		section, name, _ := strings.Cut(key, ".")
		_, err := config.Parse([]byte("nodes:\n  - {name: A, listen: 127.0.0.1:1}\n" + section + ":\n  " + name + ": 5 parsecs\n"))
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != key {
			t.Errorf("%s: %v", key, err)
		}
	}
}

func TestChanges(t *testing.T) {
	a := peer.Settings{Heartbeat: time.Second, DialTimeout: time.Second}
	b := peer.Settings{Heartbeat: 2 * time.Second, DialTimeout: time.Second, SyncInterval: time.Minute}
	got := config.Changes("peers", a, b)
	want := []string{"peers.sync_interval 0s -> 1m0s", "peers.heartbeat 1s -> 2s"}
	if !slices.Equal(got, want) {
		t.Errorf("Changes = %q, want %q", got, want)
	}
	if got := config.Changes("peers", a, a); len(got) != 0 {
		t.Errorf("no change: %q", got)
	}
	// The engine's limits are inline in the limits section.
	l := config.Limits{Limits: engine.Limits{MaxLine: 100}, MaxFuture: time.Hour}
	m := l
	m.MaxLine, m.MaxFuture = 200, 2*time.Hour
	if got, want := config.Changes("limits", l, m), []string{"limits.max_line 100 -> 200", "limits.max_future 1h0m0s -> 2h0m0s"}; !slices.Equal(got, want) {
		t.Errorf("Changes = %q, want %q", got, want)
	}
	// Secrets never reach a note.
	s := config.Security{Secret: "old"}
	if got := config.Changes("security", s, config.Security{Secret: "new", AdminToken: "t"}); !slices.Equal(got, []string{"security.secret changed", "security.admin_token changed"}) {
		t.Errorf("Changes = %q", got)
	}
}
