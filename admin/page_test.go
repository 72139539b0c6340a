package admin_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/herdnet/herd/internal/testclient"
)

// chromium finds a headless-capable Chromium. Outside CI a missing browser
// skips the browser test with a message; in CI (CI=true) it fails it, so
// the page is never silently untested there.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found and CI=true: .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium not found: skipping the browser test (apt-get install chromium to run it)")
	return ""
}

// TestPageInBrowser opens the live herd page of a five-node herd in
// headless Chromium: it must show five nodes up and every link up, then,
// once Ball stops, Ball down and its links down. HERD_SCREENSHOT=file.png
// saves a screenshot of the page with Ball down.
func TestPageInBrowser(t *testing.T) {
	bin := chromium(t)
	h := startHerd(t)
	c := testclient.Dial(t, h.Node("Alford").Addr())
	for _, id := range []string{"kiwi.cs.ucla.edu", "lemon.cs.ucla.edu", "lime.cs.ucla.edu"} {
		c.Ask("IAMAT " + id + " +34.068930-118.445127 1479413884.392014450")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(760, 820),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	url := "http://" + h.Node("Alford").AdminAddr() + "/"
	if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	// waitFor polls a JavaScript condition until it holds (bounded by ctx).
	waitFor := func(what, js string) {
		t.Helper()
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if ok {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the page never showed %s", what)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitFor("five nodes up", `document.querySelectorAll('svg .node').length === 5 &&
		document.querySelectorAll('svg .node[data-state="up"]').length === 5`)
	waitFor("five links up", `document.querySelectorAll('svg .link').length === 5 &&
		document.querySelectorAll('svg .link[data-state="up"]').length === 5`)
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('svg .node .name')].map(e => e.textContent).sort()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 5 || names[0] != "Alford" || names[4] != "Welsh" {
		t.Errorf("node labels %q", names)
	}

	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	if err := h.Node("Ball").Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	waitFor("Ball down", `document.querySelector('svg .node[data-name="Ball"]').dataset.state === "down"`)
	waitFor("the Ball-Holiday link down", `[...document.querySelectorAll('svg .link')].some(l =>
		[l.dataset.a, l.dataset.b].sort().join() === "Ball,Holiday" && l.dataset.state === "down")`)
	waitFor("the other nodes still up", `document.querySelectorAll('svg .node[data-state="up"]').length === 4`)

	if path := os.Getenv("HERD_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
