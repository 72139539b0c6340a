package cli

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Node defaults for the garbage collector, applied by `herd up` and
// `herd serve` (and herd-bench's, so that benchmarks run nodes as deployed)
// unless the environment sets them (GOGC, GOMEMLIMIT win):
//
//   - GOGC=200. The request path allocates nothing and the cache's lines
//     live in pointer-free arenas, so the live heap the collector scans is
//     small and barely grows; what it collects is mostly the cache's growth
//     (index tables, slabs) while new clients arrive. Doubling GOGC halves
//     those cycles for a heap target that the arenas, not garbage, dominate.
//   - GOMEMLIMIT = 90% of the cgroup's memory.max when the node runs under
//     a memory limit (a container), so that the collector works harder
//     before the kernel's OOM killer would act; no limit otherwise.
const (
	defaultGOGC        = 200
	memLimitPercentage = 90
)

// SetGCDefaults applies the node's garbage collector defaults. The node
// commands call it before Up or Serve.
func SetGCDefaults() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if max, ok := cgroupMemoryMax(); ok {
			debug.SetMemoryLimit(max / 100 * memLimitPercentage)
		}
	}
}

// cgroupMemoryMax reads the cgroup v2 memory limit of this process.
func cgroupMemoryMax() (int64, bool) {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64) // "max": no limit
	return n, err == nil && n > 0
}

// SetProcsDefault gives the Go scheduler one processor more than the
// process has gnet event loops, unless the environment sets GOMAXPROCS, when
// the process runs one node's loops on its cores (loops at most the number
// of cores, as `herd serve` does). An event loop waits for its sockets in
// epoll_wait, a blocking system call during which its processor is neither
// idle nor free: with as many processors as loops, a goroutine that a loop
// wakes (a peer link with an update to send, a WHATSAT worker) waits until
// the runtime's monitor takes a processor back, up to about 10 ms on a
// quiet process. One processor more means an idle one is there to run it
// at once. A process with more loops than cores (`herd up` runs five
// nodes' loops in one process) keeps its default: there, a processor per
// loop cost a third of the herd's throughput in measurement.
func SetProcsDefault(loops int) {
	if os.Getenv("GOMAXPROCS") != "" || loops <= 0 || loops > runtime.NumCPU() {
		return
	}
	if want := loops + 1; want > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(want)
	}
}
