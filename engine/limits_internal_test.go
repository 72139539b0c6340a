package engine

import "testing"

func TestMaxConnsAndBacklog(t *testing.T) {
	for _, tc := range []struct {
		configured, limit, share int
		maxConns                 int
		lowered                  bool
		backlog                  int
	}{
		{0, 20000, 1, 14936, false, 2532},    // auto: 3/4 of the limit less 64
		{0, 20000, 5, 2936, false, 532},      // herd up: five nodes share the limit
		{100000, 256, 1, 128, true, 64},      // too many for the limit: lowered
		{1000, 20000, 1, 1000, false, 4096},  // configured below the ceiling: kept
		{0, 1 << 20, 1, 786368, false, 4096}, // a server's limit
		{0, 64, 1, 16, false, 64},            // never below 16
	} {
		m, lowered := maxConnsFor(tc.configured, tc.limit, tc.share)
		b := backlogFor(tc.limit, tc.share, m)
		if m != tc.maxConns || lowered != tc.lowered || b != tc.backlog {
			t.Errorf("maxConnsFor(%d, %d, %d) = %d, %v, backlog %d; want %d, %v, %d",
				tc.configured, tc.limit, tc.share, m, lowered, b, tc.maxConns, tc.lowered, tc.backlog)
		}
	}
}
