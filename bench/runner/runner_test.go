package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTinyMatrix runs the benchmark tooling end to end on a tiny matrix
// (gnet, goroutine and echo; a few seconds) so that it cannot rot. It checks
// that every run completed with correct replies and that the report has its
// sections; it asserts nothing about timings.
func TestTinyMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the herd binary and starts servers")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "herd")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/herd-bench")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	o := &Options{Herd: bin, Engines: []string{"gnet", "goroutine", "echo"}, Conns: []int{1, 4}, Pipeline: []int{1, 4},
		Rounds: 1, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond, Log: os.Stderr, Command: "test"}
	samples, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 12 {
		t.Fatalf("%d samples, want 12", len(samples))
	}
	for _, s := range samples {
		if s.Failed != "" || s.Errors != 0 || s.Requests == 0 {
			t.Errorf("%+v", s)
		}
	}
	x := ExtraResults{RSSPerIdleConn: map[string]float64{}}
	report := Report(o, samples, x)
	for _, want := range []string{"# Herd benchmarks", "### Pipeline 1", "### Ratios", "| 4 | gnet |", "## Memory per connection and per client", "## The herd: propagation"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
