package node_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/config"
)

// TestMain proves that no goroutine outlives a herd: not the links a reload
// starts or ends, not the admin ports.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool and timers live for the process.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		// fasthttp's process-wide Date updater and a stopped admin server's
		// worker-pool cleaner, which ends at its next wake-up.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// testConfig is the default herd on 127.0.0.1:0 without admin ports, with
// quick reconnects and no periodic snapshot.
func testConfig() *config.Config {
	cfg := config.Default()
	for i := range cfg.Nodes {
		cfg.Nodes[i].Listen, cfg.Nodes[i].Address, cfg.Nodes[i].Admin = "127.0.0.1:0", "127.0.0.1:0", ""
	}
	cfg.Peers.BackoffMin, cfg.Peers.BackoffMax = 10*time.Millisecond, 200*time.Millisecond
	cfg.Persistence.SnapshotInterval = time.Hour
	return cfg
}
