package cli

import (
	"os"
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
