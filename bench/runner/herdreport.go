package runner

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// ms renders microseconds as milliseconds.
func ms(us float64) string {
	if us == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", us/1000)
}

func dropsCell(lr LevelResult) string {
	if !lr.DropsCounted {
		if lr.Load.LinksSampled {
			return "none (no drop path)"
		}
		return "no counter"
	}
	return fmt.Sprintf("%.0f", lr.Dropped)
}

func loadDrops(l herdLoad) string {
	if !l.DropsCounted {
		if l.LinksSampled {
			return fmt.Sprintf("no (the links have no drop path; at most %.0f updates waited at once, the oldest %.2f s)", l.PeakPending, l.PeakLagSec)
		}
		return "no counter"
	}
	return fmt.Sprintf("%.0f", l.Dropped)
}

// linksCell is the most updates the links held waiting at once and the
// oldest wait, or "–" when the engine exports neither.
func linksCell(l herdLoad) string {
	if !l.LinksSampled {
		return "–"
	}
	return fmt.Sprintf("%.0f / %.2f", l.PeakPending, l.PeakLagSec)
}

func agreeCell(lr LevelResult) string {
	if lr.AgreeSec < 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", lr.AgreeSec)
}

// PropagationReport renders a propagation run as a Markdown section;
// chartFile (relative to the report's directory, "" for none) is its chart.
func PropagationReport(r PropagationResult, chartFile string) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	ho := r.Options
	var failed []string
	w("## How fast does an update reach a node two hops away while the herd is loaded?\n\n")
	w("```sh\n%s\n```\n\n", r.Command)
	w("%s, %s. Five `%s` processes in the five-node topology (Alford–Hamilton, Alford–Welsh, Ball–Holiday, Ball–Welsh, Hamilton–Holiday), ", r.Machine, r.Date, r.Engine)
	w("five `herd-bench load` generators (one per node, %d connections x pipeline %d, cold workload) and the probes share the machine's cores.\n\n", ho.Conns, ho.Pipeline)
	w("Capacity, closed loop over the five nodes: **%.0f IAMAT/s**, %.2f µs of herd CPU (the five processes) per client IAMAT, %s updates dropped by the links. ", r.Capacity.RPS, r.Capacity.CPUusPerUp, loadDrops(r.Capacity))
	w("Each run (capacity, each level) starts a fresh herd. Each level is open-loop load at a fraction of the capacity for %s, while a probe IAMAT enters at Alford every %s and Ball is polled every %s (an older IAMAT for the probe's client, answered from the cache) until it answers with the probe's line; times run from the probe's write to the poll reply that showed it. ", ho.Duration, ho.ProbeInterval, ho.PollInterval)
	w("Lost probes (not at Ball within %s) count as %s. Dropped is the growth of `herd_peer_updates_dropped_total` over the five nodes; pending / lag is the most updates the links held waiting at once (the sum of `herd_peer_pending`, sampled every 250 ms) and the oldest wait on any link (`herd_peer_lag_seconds`); agree is how long after the load the five nodes took to report the same `herd_clients`.\n\n", ho.ProbeTimeout, ho.ProbeTimeout)
	w("| load | target IAMAT/s | achieved IAMAT/s | probes | p50 ms | p99 ms | p99.9 ms | max ms | lost | dropped | pending / lag s | agree s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, lr := range r.Levels {
		name := fmt.Sprintf("%.0f%%", lr.Level*100)
		target, got := fmt.Sprintf("%.0f", lr.Rate), fmt.Sprintf("%.0f", lr.Load.RPS)
		if lr.Level == 0 {
			name, target, got = "idle", "0", "0"
		}
		if lr.Failed != "" {
			name += " (failed, below)"
			failed = append(failed, fmt.Sprintf("- %s failed: %s.\n", name[:len(name)-len(" (failed, below)")], lr.Failed))
		}
		w("| %s | %s | %s | %d | %s | %s | %s | %s | %d | %s | %s | %s |\n", name, target, got, lr.Probe.Probes,
			ms(lr.Probe.P50us), ms(lr.Probe.P99us), ms(lr.Probe.P999us), ms(lr.Probe.MaxUs), lr.Probe.Lost, dropsCell(lr), linksCell(lr.Load), agreeCell(lr))
	}
	w("\n")
	for _, f := range failed {
		w("%s", f)
	}
	for _, g := range []struct {
		level, p99us float64
	}{{0.5, 2000}, {0.8, 10000}} {
		for _, lr := range r.Levels {
			if lr.Level != g.level {
				continue
			}
			met := lr.Probe.P99us <= g.p99us && lr.Probe.Lost == 0 && lr.Failed == "" && (!lr.DropsCounted || lr.Dropped == 0)
			verdict := "met"
			if !met {
				verdict = "not met"
			}
			w("- Goal at %.0f%%: p99 <= %.0f ms with zero drops: **%s** (p99 %s ms, %s dropped).\n", g.level*100, g.p99us/1000, verdict, ms(lr.Probe.P99us), dropsCell(lr))
		}
	}
	if chartFile != "" {
		w("\n![propagation under load](%s)\n", chartFile)
	}
	w("\n")
	return b.String()
}

// HerdReport renders the herd cell as a Markdown section, with links to
// the charts (paths relative to the report).
func HerdReport(r HerdResults, charts []chart) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	ho := r.Options
	w("## Herd against herd: which five-node herd floods client locations fastest and cheapest?\n\n")
	w("```sh\n%s\n```\n\n", r.Command)
	w("%s, %s. Each engine runs as five processes in the five-node topology (Alford–Hamilton, Alford–Welsh, Ball–Holiday, Ball–Welsh, Hamilton–Holiday). ", r.Machine, r.Date)
	w("Load: five `herd-bench load` generators at once, one per node, %d connections x pipeline %d each (cold workload, distinct clients per generator), %s closed loop; ", ho.Conns, ho.Pipeline, ho.Duration)
	w("herd CPU per update is the five processes' CPU (utime+stime from /proc) over the measured interval divided by the client IAMATs answered, so it includes every flooded apply. ")
	w("Propagation, on a fresh herd: open-loop load of %.0f IAMAT/s in total while a probe enters at Alford every %s and Ball (two hops) is polled every %s until it holds it. ", ho.Rate, ho.ProbeInterval, ho.PollInterval)
	w("`gnet` is the Herd node, `goroutine` the same node on one goroutine per connection (bench/baseline, through package node), `twisted` and `node` the Python Twisted and Node.js herd nodes of bench/peers (unbounded send buffers, so they never drop). The generators, the probes and the five servers share the cores.\n\n")
	w("Every engine ran %d round(s), engines in alternating order; cells are the median over rounds, with min–max for throughput and CPU.\n\n", rounds(r))
	w("| engine | IAMAT/s (5 nodes) | herd CPU µs/update | client p99 ms | dropped | at %.0f/s: achieved | propagation p50 ms | p99 ms | p99.9 ms | lost | dropped |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", ho.Rate)
	sums := summarizeHerd(r)
	for _, e := range sums {
		w("| %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %d | %s |\n", e.engine, fmtRange(e.rps, "%.0f"), fmtRange(e.cpu, "%.2f"), ms(e.clientP99), e.dropsClosed,
			e.achieved, ms(e.p50), ms(e.p99), ms(e.p999), e.lost, e.dropsProp)
	}
	w("\n")
	for _, c := range r.Cells {
		if c.Failed != "" {
			w("- %s, round %d, failed: %s.\n", c.Engine, c.Round, c.Failed)
		}
	}
	for _, g := range sums {
		if g.engine != "gnet" || g.rps.med == 0 {
			continue
		}
		for _, e := range sums {
			if e.engine != "gnet" && e.rps.med > 0 {
				w("- gnet against %s (medians): %s the throughput, %s the CPU per update.\n", e.engine, ratio(g.rps.med, e.rps.med), ratio(g.cpu.med, e.cpu.med))
			}
		}
	}
	w("\n")
	for _, c := range charts {
		w("![%s](%s)\n", c.Title, c.File)
	}
	w("\n")
	return b.String()
}

// savePlot writes p as dir/name and returns the chart with its path
// relative to reportDir.
func savePlot(p *plot.Plot, dir, reportDir, name string) (chart, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return chart{}, err
	}
	p.BackgroundColor = color.White
	if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, name)); err != nil {
		return chart{}, err
	}
	rel, err := filepath.Rel(reportDir, filepath.Join(dir, name))
	if err != nil {
		return chart{}, err
	}
	return chart{File: filepath.ToSlash(rel), Title: p.Title.Text}, nil
}

// PropagationChart draws p50, p99 and p99.9 propagation against load level.
func PropagationChart(r PropagationResult, dir, reportDir string) (chart, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("propagation Alford to Ball, five %s nodes", r.Engine)
	p.X.Label.Text = "load, % of the herd's measured capacity"
	p.Y.Label.Text = "ms (log)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	for i, q := range []struct {
		name string
		v    func(ProbeStats) float64
	}{{"p50", func(s ProbeStats) float64 { return s.P50us }}, {"p99", func(s ProbeStats) float64 { return s.P99us }}, {"p99.9", func(s ProbeStats) float64 { return s.P999us }}} {
		var pts plotter.XYs
		for _, lr := range r.Levels {
			if v := q.v(lr.Probe); v > 0 {
				pts = append(pts, plotter.XY{X: lr.Level * 100, Y: v / 1000})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return chart{}, err
		}
		l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
		l.Width = vg.Points(2)
		s.Shape = plotutil.Shape(i)
		p.Add(l, s)
		p.Legend.Add(q.name, l, s)
	}
	p.Add(plotter.NewGrid())
	return savePlot(p, dir, reportDir, "propagation-"+r.Engine+".png")
}

// HerdCharts draws the herd cell: throughput, CPU per update and
// propagation p99, one bar per engine.
func HerdCharts(r HerdResults, dir, reportDir string) ([]chart, error) {
	var names []string
	var sums []herdSummary
	for _, e := range summarizeHerd(r) {
		if e.rps.med > 0 {
			names = append(names, e.engine)
			sums = append(sums, e)
		}
	}
	if len(sums) == 0 {
		return nil, nil
	}
	var out []chart
	for _, m := range []struct {
		file, title, ylabel string
		v                   func(herdSummary) float64
	}{
		{"herd-throughput.png", "five-node herds: IAMAT/s over five nodes", "IAMAT/s (median)", func(e herdSummary) float64 { return e.rps.med }},
		{"herd-cpu.png", "five-node herds: herd CPU per client update", "µs, five processes (median)", func(e herdSummary) float64 { return e.cpu.med }},
		{"herd-propagation.png", fmt.Sprintf("five-node herds: propagation p99 at %.0f IAMAT/s", r.Options.Rate), "ms, Alford to Ball (median)", func(e herdSummary) float64 { return e.p99 / 1000 }},
	} {
		var vals plotter.Values
		for _, e := range sums {
			vals = append(vals, m.v(e))
		}
		p := plot.New()
		p.Title.Text = m.title
		p.Y.Label.Text = m.ylabel
		bars, err := plotter.NewBarChart(vals, vg.Points(30))
		if err != nil {
			return out, err
		}
		bars.Color = plotutil.Color(0)
		p.Add(bars, plotter.NewGrid())
		p.NominalX(names...)
		c, err := savePlot(p, dir, reportDir, m.file)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

// herdSummary is one engine's herd over the rounds.
type herdSummary struct {
	engine                 string
	rps, cpu               stat
	clientP99, achieved    float64
	p50, p99, p999         float64
	lost                   int
	dropsClosed, dropsProp string
}

func rounds(r HerdResults) int {
	n := 0
	for _, c := range r.Cells {
		n = max(n, c.Round)
	}
	return max(n, 1)
}

// summarizeHerd takes the median over rounds of each engine's figures
// (rounds whose load ran at all, failed ones included: their failure is
// listed beside the table).
func summarizeHerd(r HerdResults) []herdSummary {
	var out []herdSummary
	var order []string
	by := map[string][]HerdCell{}
	for _, c := range r.Cells {
		if _, ok := by[c.Engine]; !ok {
			order = append(order, c.Engine)
		}
		by[c.Engine] = append(by[c.Engine], c)
	}
	for _, e := range order {
		var rps, cpu, cp99, ach, p50, p99, p999, dc, dp []float64
		sum := herdSummary{engine: e, dropsClosed: "no counter", dropsProp: "no counter"}
		countedC, countedP := false, false
		for _, c := range by[e] {
			if c.Closed.RPS > 0 {
				rps, cpu, cp99 = append(rps, c.Closed.RPS), append(cpu, c.Closed.CPUusPerUp), append(cp99, c.Closed.P99us)
				if c.Closed.DropsCounted {
					dc, countedC = append(dc, c.Closed.Dropped), true
				}
			}
			if c.Prop.Probe.Probes > 0 {
				ach, p50, p99, p999 = append(ach, c.Prop.Load.RPS), append(p50, c.Prop.Probe.P50us), append(p99, c.Prop.Probe.P99us), append(p999, c.Prop.Probe.P999us)
				sum.lost += c.Prop.Probe.Lost
				if c.Prop.DropsCounted {
					dp, countedP = append(dp, c.Prop.Dropped), true
				}
			}
		}
		sum.rps, sum.cpu, sum.clientP99 = summarize(rps), summarize(cpu), summarize(cp99).med
		sum.achieved, sum.p50, sum.p99, sum.p999 = summarize(ach).med, summarize(p50).med, summarize(p99).med, summarize(p999).med
		if countedC {
			sum.dropsClosed = fmt.Sprintf("%.0f", summarize(dc).med)
		}
		if countedP {
			sum.dropsProp = fmt.Sprintf("%.0f", summarize(dp).med)
		}
		// Herd's links keep a pending set and have no drop path: say so,
		// with the most the links held waiting at once.
		var peak, lag float64
		sampled := false
		for _, c := range by[e] {
			if c.Closed.LinksSampled {
				sampled, peak, lag = true, max(peak, c.Closed.PeakPending), max(lag, c.Closed.PeakLagSec)
			}
		}
		if !countedC && sampled {
			sum.dropsClosed = fmt.Sprintf("none (peak %.0f pending, %.2f s)", peak, lag)
		}
		if !countedP && sampled {
			sum.dropsProp = "none"
		}
		out = append(out, sum)
	}
	return out
}
