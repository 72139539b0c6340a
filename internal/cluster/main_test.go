package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain proves that no goroutine outlives a herd: not the links a reload
// starts or ends, not the admin ports.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool and timers live for the process.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}
