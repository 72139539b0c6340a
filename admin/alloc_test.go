//go:build !race

package admin

import (
	"testing"
	"time"
)

// TestScrapeAllocs: a scrape served from the rendered exposition, an
// authorised one included, and a probe allocate nothing.
func TestScrapeAllocs(t *testing.T) {
	defer func(d time.Duration) { renderEvery = d }(renderEvery)
	renderEvery = time.Hour // the measured runs never render
	n := scrapeNode()
	n.Token = "s3cret"
	s := New(n, nil)
	for _, tc := range []struct{ path, auth string }{
		{"/metrics", "Bearer s3cret"},
		{"/metrics", ""}, // 401
		{"/livez", ""},
		{"/readyz", ""},
	} {
		ctx := scrapeCtx()
		ctx.Request.SetRequestURI(tc.path)
		if tc.auth != "" {
			ctx.Request.Header.Set("Authorization", tc.auth)
		}
		s.handle(ctx) // renders once
		ctx.Response.Reset()
		if a := testing.AllocsPerRun(1000, func() {
			s.handle(ctx)
			ctx.Response.Reset()
		}); a != 0 {
			t.Errorf("%s (auth %q): %v allocations per request", tc.path, tc.auth, a)
		}
	}
}
