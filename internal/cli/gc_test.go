package cli

import (
	"runtime"
	"testing"
)

// TestSetProcsDefault: a process running one node's gnet loops (at most one
// per core) gets one processor more than it has loops, so that a goroutine
// a loop wakes has an idle processor; a process with more loops than cores
// keeps its processors; GOMAXPROCS in the environment wins.
func TestSetProcsDefault(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
	cores := runtime.NumCPU()

	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(cores)
	SetProcsDefault(cores)
	if got := runtime.GOMAXPROCS(0); got != cores+1 {
		t.Errorf("%d loops on %d cores: GOMAXPROCS %d, want %d", cores, cores, got, cores+1)
	}

	runtime.GOMAXPROCS(cores)
	SetProcsDefault(5 * cores) // five nodes in one process
	if got := runtime.GOMAXPROCS(0); got != cores {
		t.Errorf("%d loops on %d cores: GOMAXPROCS %d, want %d kept", 5*cores, cores, got, cores)
	}

	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	SetProcsDefault(1)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment: GOMAXPROCS %d, want 1", got)
	}
}
