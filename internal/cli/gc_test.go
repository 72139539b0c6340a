package cli

import (
	"runtime"
	"testing"
)

// TestSetProcsDefault: a process running gnet loops gets one processor
// more than it has loops, so that a goroutine a loop wakes has an idle
// processor; GOMAXPROCS in the environment wins, and a process that
// already has more processors keeps them.
func TestSetProcsDefault(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })

	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(2)
	SetProcsDefault(2)
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("2 loops on 2 processors: GOMAXPROCS %d, want 3", got)
	}
	SetProcsDefault(10)
	if got := runtime.GOMAXPROCS(0); got != 11 {
		t.Errorf("10 loops: GOMAXPROCS %d, want 11", got)
	}
	SetProcsDefault(1)
	if got := runtime.GOMAXPROCS(0); got != 11 {
		t.Errorf("fewer loops than processors: GOMAXPROCS %d, want 11 kept", got)
	}

	t.Setenv("GOMAXPROCS", "2")
	runtime.GOMAXPROCS(2)
	SetProcsDefault(4)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS=2 in the environment: GOMAXPROCS %d, want 2", got)
	}
}
