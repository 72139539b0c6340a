package engine_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/engine"
	"github.com/herdnet/herd/herd"
)

// Stop is safe before Start, after a failed Start, twice, and when its
// context has expired; none of these hangs, panics or leaks a goroutine
// (TestMain's goleak check covers the leaks).
func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	node := func() *herd.Node { return herd.NewNode(herd.NodeOptions{Name: "Ball"}) }
	within := func(t *testing.T, what string, f func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s hangs", what)
			return nil
		}
	}

	t.Run("stop-before-start", func(t *testing.T) {
		s := engine.New(node(), engine.Config{Listen: "127.0.0.1:0"})
		if err := within(t, "Stop before Start", func() error { return s.Stop(context.Background()) }); err != nil {
			t.Errorf("Stop before Start: %v", err)
		}
		if err := s.Start(); err == nil {
			t.Error("Start after Stop succeeded")
		}
	})

	t.Run("stop-after-failed-start", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		s := engine.New(node(), engine.Config{Listen: ln.Addr().String(), Loops: 1})
		err = s.Start()
		if err == nil || !strings.Contains(err.Error(), "listen on") {
			t.Fatalf("Start on a busy port: %v", err)
		}
		for range 2 {
			if err := within(t, "Stop after a failed Start", func() error { return s.Stop(context.Background()) }); err != nil {
				t.Errorf("Stop after a failed Start: %v", err)
			}
		}
	})

	t.Run("stop-twice", func(t *testing.T) {
		s := engine.New(node(), engine.Config{Listen: "127.0.0.1:0", Loops: 1})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err == nil {
			t.Error("second Start succeeded")
		}
		for i := range 2 {
			if err := within(t, "Stop", func() error { return s.Stop(context.Background()) }); err != nil {
				t.Errorf("Stop #%d: %v", i+1, err)
			}
		}
	})

	t.Run("stop-with-expired-context", func(t *testing.T) {
		s := engine.New(node(), engine.Config{Listen: "127.0.0.1:0", Loops: 1})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = within(t, "Stop with an expired context", func() error { return s.Stop(ctx) })
		// Whatever Stop reported, the goroutines end on their own: goleak
		// in TestMain fails the package if one is left.
		if err := within(t, "second Stop", func() error { return s.Stop(context.Background()) }); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}
