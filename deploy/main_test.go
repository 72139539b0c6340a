package deploy_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain proves that no goroutine outlives the herds and the Prometheus
// servers the tests start.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool and timers live for the process.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		// fasthttp's process-wide Date updater, and a stopped admin server's
		// worker-pool cleaner until its next wake-up.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}
