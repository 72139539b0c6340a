package runner

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// HerdOptions are the five-node herd measurements: the herd cell of the
// matrix (engines side by side) and propagation under load (one engine at
// several fractions of its capacity).
type HerdOptions struct {
	Conns    int           // load connections per node
	Pipeline int           // load pipeline depth
	Duration time.Duration // measured time of each load run
	// Rate is the herd cell's fixed open-loop rate (IAMAT/s over the five
	// nodes) at which propagation is compared: one every engine sustains.
	Rate          float64
	Levels        []float64     // propagation: fractions of the measured capacity; 0 is idle
	ProbeInterval time.Duration // time between probe IAMATs at Alford
	ProbeTimeout  time.Duration // a probe not at Ball by then is lost
	PollInterval  time.Duration // least time between two rounds of polls at Ball
	Rounds        int           // herd cell: repetitions of every engine, in alternating order
	// ServeFlags are added to every `herd-bench serve` of a gnet or
	// goroutine herd (say "--loops 1"), for A/B runs.
	ServeFlags []string
}

// DefaultHerdOptions is a modest run: 50 connections per node at
// pipeline 16, 10 s per load, a probe every 5 ms, Ball polled every
// 200 µs at most.
func DefaultHerdOptions() HerdOptions {
	return HerdOptions{Conns: 50, Pipeline: 16, Duration: 10 * time.Second, Rate: 2000,
		Levels: []float64{0, 0.25, 0.5, 0.8}, ProbeInterval: 5 * time.Millisecond, ProbeTimeout: 10 * time.Second,
		PollInterval: 200 * time.Microsecond}
}

// LevelResult is propagation at one load level.
type LevelResult struct {
	Level float64    `json:"level"` // fraction of the capacity; 0 is idle
	Rate  float64    `json:"rate"`  // target IAMAT/s over the five nodes
	Load  herdLoad   `json:"load"`  // what the open-loop generators achieved
	Probe ProbeStats `json:"probe"`
	// Dropped is the growth of herd_peer_updates_dropped_total over the
	// five nodes during the level; DropsCounted is false when the engine
	// exports no such counter.
	Dropped      float64 `json:"dropped"`
	DropsCounted bool    `json:"drops_counted"`
	// AgreeSec is how long after the load ended the five nodes took to
	// hold the same number of clients (herd_clients); -1 when not measured.
	AgreeSec float64 `json:"agree_s"`
	Failed   string  `json:"failed,omitempty"`
}

// PropagationResult is `herd-bench propagation`: one engine's capacity and
// its propagation at each level.
type PropagationResult struct {
	Engine   string        `json:"engine"`
	Options  HerdOptions   `json:"options"`
	Capacity herdLoad      `json:"capacity"`
	Levels   []LevelResult `json:"levels"`
	Command  string        `json:"command"`
	Machine  string        `json:"machine"`
	Date     string        `json:"date"`
}

// HerdCell is one engine's five-node herd in the herd cell.
type HerdCell struct {
	Engine string      `json:"engine"`
	Round  int         `json:"round,omitempty"`
	Closed herdLoad    `json:"closed"` // closed-loop throughput and CPU per update
	Prop   LevelResult `json:"propagation"`
	Failed string      `json:"failed,omitempty"`
}

// HerdResults is the herd cell: every engine's herd, side by side.
type HerdResults struct {
	Options HerdOptions `json:"options"`
	Cells   []HerdCell  `json:"cells"`
	Command string      `json:"command"`
	Machine string      `json:"machine"`
	Date    string      `json:"date"`
}

// level runs load at rate (0: none) over the herd while probes go from
// Alford to Ball, and counts drops and the time to agree afterwards.
func level(o *Options, ho HerdOptions, h *herdRun, rate float64, tag string) LevelResult {
	lr := LevelResult{Rate: rate, AgreeSec: -1}
	drop0, counted := h.metric("herd_peer_updates_dropped_total")
	type probed struct {
		st  ProbeStats
		err error
	}
	pc := make(chan probed, 1)
	go func() {
		if rate > 0 {
			time.Sleep(o.Warmup)
		}
		st, err := probe(h.node("Alford").addr, h.node("Ball").addr, tag, ho)
		pc <- probed{st, err}
	}()
	if rate > 0 {
		lr.Load = loadHerd(o, h, ho.Conns, ho.Pipeline, rate, ho.Duration)
	}
	p := <-pc
	lr.Probe = p.st
	switch {
	case p.err != nil:
		lr.Failed = p.err.Error()
	case lr.Load.Failed != "":
		lr.Failed = lr.Load.Failed
	case lr.Load.Errors > 0:
		lr.Failed = fmt.Sprintf("%d wrong or missing replies, e.g. %s", lr.Load.Errors, strings.Join(lr.Load.Examples, "; "))
	}
	if counted {
		drop1, ok := h.metric("herd_peer_updates_dropped_total")
		lr.Dropped, lr.DropsCounted = drop1-drop0, ok
	}
	if _, ok := h.metric("herd_clients"); ok {
		lr.AgreeSec = h.agree(60 * time.Second)
	}
	return lr
}

// agree waits until the five nodes report the same herd_clients and says
// how long that took (seconds), or -1 if they did not within limit.
func (h *herdRun) agree(limit time.Duration) float64 {
	start := time.Now()
	for time.Since(start) < limit {
		var first float64
		same := true
		for i, n := range h.nodes {
			v, found, err := scrape(n.admin, "herd_clients")
			if err != nil || !found {
				return -1
			}
			if i == 0 {
				first = v
			} else if v != first {
				same = false
			}
		}
		if same {
			return time.Since(start).Seconds()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return -1
}

// Propagation measures engine's five-node herd: its closed-loop capacity
// over the five nodes, then, at each level (a fraction of that capacity,
// open loop), propagation from Alford to Ball, drops and time to agree.
func Propagation(ctx context.Context, o *Options, ho HerdOptions, engine string) (PropagationResult, error) {
	res := PropagationResult{Engine: engine, Options: ho, Command: o.Command, Machine: machine(), Date: time.Now().UTC().Format("2006-01-02 15:04 MST")}
	dir, err := os.MkdirTemp("", "herd-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	// Every run gets a fresh herd, so that none pays for the repair work
	// (resyncs after drops) or the backlog of the one before.
	fresh := func(run func(h *herdRun)) error {
		h, err := startHerd(o, ho, engine, dir)
		if err != nil {
			return err
		}
		defer h.stop()
		run(h)
		return nil
	}
	fmt.Fprintf(o.Log, "bench: %s herd capacity: %d conns x pipeline %d per node, closed loop, %s\n", engine, ho.Conns, ho.Pipeline, ho.Duration)
	if err := fresh(func(h *herdRun) { res.Capacity = loadHerd(o, h, ho.Conns, ho.Pipeline, 0, ho.Duration) }); err != nil {
		return res, err
	}
	if res.Capacity.Failed != "" || res.Capacity.RPS == 0 {
		return res, fmt.Errorf("capacity run: %s", res.Capacity.Failed)
	}
	fmt.Fprintf(o.Log, "bench: capacity %.0f IAMAT/s, %.2f µs herd CPU per update, %.0f dropped\n", res.Capacity.RPS, res.Capacity.CPUusPerUp, res.Capacity.Dropped)
	for i, lv := range ho.Levels {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		rate := lv * res.Capacity.RPS
		fmt.Fprintf(o.Log, "bench: level %.0f%% (%.0f IAMAT/s): ", lv*100, rate)
		err := fresh(func(h *herdRun) {
			lr := level(o, ho, h, rate, fmt.Sprintf("%d-%d", time.Now().UnixNano(), i))
			lr.Level = lv
			fmt.Fprintf(o.Log, "propagation p50 %.0f µs p99 %.0f µs p99.9 %.0f µs, %d probes, %d lost, dropped %.0f %s\n",
				lr.Probe.P50us, lr.Probe.P99us, lr.Probe.P999us, lr.Probe.Probes, lr.Probe.Lost, lr.Dropped, lr.Failed)
			res.Levels = append(res.Levels, lr)
		})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// Herd runs the herd cell: for each engine a five-process herd, its
// closed-loop throughput and CPU per client update, then propagation at
// the fixed rate ho.Rate. Engines that cannot run here are skipped.
func Herd(ctx context.Context, o *Options, ho HerdOptions, engines []string) (HerdResults, error) {
	res := HerdResults{Options: ho, Command: o.Command, Machine: machine(), Date: time.Now().UTC().Format("2006-01-02 15:04 MST")}
	dir, err := os.MkdirTemp("", "herd-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var run []string
	for _, e := range engines {
		if !slices.Contains(HerdEngines, e) {
			fmt.Fprintf(o.Log, "bench: herd: skipping %s: not a herd engine (%s)\n", e, strings.Join(HerdEngines, ", "))
			continue
		}
		if err := Available(e); err != nil {
			fmt.Fprintf(o.Log, "bench: herd: skipping %s: %v\n", e, err)
			continue
		}
		run = append(run, e)
	}
	for round := 1; round <= max(ho.Rounds, 1); round++ {
		// Alternate the order of engines from round to round.
		order := slices.Clone(run)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, e := range order {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			fmt.Fprintf(o.Log, "bench: round %d, herd of five %s nodes: ", round, e)
			cell := herdCell(o, ho, e, dir)
			cell.Round = round
			fmt.Fprintf(o.Log, "%.0f IAMAT/s, %.2f µs herd CPU per update; at %.0f/s propagation p50 %.0f µs p99 %.0f µs %s\n",
				cell.Closed.RPS, cell.Closed.CPUusPerUp, ho.Rate, cell.Prop.Probe.P50us, cell.Prop.Probe.P99us, cell.Failed)
			res.Cells = append(res.Cells, cell)
		}
	}
	return res, nil
}

// herdCell measures one engine's herd once: throughput and propagation,
// each on a fresh herd (the second must not pay for the first's backlog).
func herdCell(o *Options, ho HerdOptions, e, dir string) HerdCell {
	cell := HerdCell{Engine: e}
	h, err := startHerd(o, ho, e, dir)
	if err == nil {
		cell.Closed = loadHerd(o, h, ho.Conns, ho.Pipeline, 0, ho.Duration)
		h.stop()
		h, err = startHerd(o, ho, e, dir)
	}
	if err != nil {
		cell.Failed = err.Error()
		return cell
	}
	cell.Prop = level(o, ho, h, ho.Rate, fmt.Sprintf("%d-%s", time.Now().UnixNano(), e))
	h.stop()
	switch {
	case cell.Closed.Failed != "":
		cell.Failed = cell.Closed.Failed
	case cell.Closed.Errors > 0:
		cell.Failed = fmt.Sprintf("%d wrong or missing replies, e.g. %s", cell.Closed.Errors, strings.Join(cell.Closed.Examples, "; "))
	case cell.Prop.Failed != "":
		cell.Failed = "propagation: " + cell.Prop.Failed
	}
	return cell
}
