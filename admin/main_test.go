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
		// fasthttp keeps one process-wide goroutine that updates the Date
		// header, and a stopped server's worker-pool cleaner ends only at its
		// next wake-up (MaxIdleWorkerDuration): library goroutines, named
		// one by one rather than ignoring every sleeping goroutine.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}
