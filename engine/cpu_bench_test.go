package engine_test

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
)

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIAMATCPU is BenchmarkIAMATLoopback's workload reporting the
// CPU time the whole process (client and node) spends per IAMAT,
// "cpu-ns/op": on a noisy machine it moves less than wall time, and it is
// the figure that counting per event loop must not raise.
func BenchmarkIAMATCPU(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", depth), func(b *testing.B) {
			h := startTestHerd(b, testConfig(b), "Ball")
			c := testclient.Dial(b, h.Nodes[0].Addr())
			var store, req strings.Builder
			for i := range depth {
				fmt.Fprintf(&store, "IAMAT client%d +34.068930-118.445127 1479413884.%d\n", i, i)
				fmt.Fprintf(&req, "IAMAT client%d +34.068930-118.445127 1479413883.%d\n", i, i) // older
			}
			batch := []byte(req.String())
			c.Send(store.String())
			n := 0
			for range depth {
				n += len(c.Line())
			}
			reply := make([]byte, n)
			b.ReportAllocs()
			b.ResetTimer()
			start := cpuTime(b)
			ops := 0
			for ; ops < b.N; ops += depth {
				_ = c.Conn.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Conn.Write(batch); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c.R, reply); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-start)/float64(ops), "cpu-ns/op")
		})
	}
}
