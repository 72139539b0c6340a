package admin_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain proves that no goroutine outlives an admin server or a herd.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool and timers live for the process.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}
