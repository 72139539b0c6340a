package runner

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// herdFlags registers the flags the herd cell and the propagation command
// share, and returns a function that applies them to ho.
func herdFlags(fs *flag.FlagSet, ho *HerdOptions) func() error {
	conns := fs.Int("conns-per-node", ho.Conns, "five-node herd: load connections per node")
	pipe := fs.Int("pipeline-per-node", ho.Pipeline, "five-node herd: load pipeline depth")
	fs.DurationVar(&ho.Duration, "herd-duration", ho.Duration, "five-node herd: measured time of each load run")
	fs.DurationVar(&ho.ProbeInterval, "probe-interval", ho.ProbeInterval, "time between propagation probes at Alford")
	fs.DurationVar(&ho.ProbeTimeout, "probe-timeout", ho.ProbeTimeout, "a probe not at Ball by then is lost")
	fs.DurationVar(&ho.PollInterval, "poll-interval", ho.PollInterval, "least time between two rounds of polls at Ball (the figures' resolution; 0: back to back)")
	serveFlags := fs.String("serve-flags", "", "extra flags, space-separated, for every `herd-bench serve` of a gnet or goroutine herd (e.g. \"--loops 1\")")
	return func() error {
		ho.ServeFlags = strings.Fields(*serveFlags)
		if *conns < 1 || *pipe < 1 || ho.Duration <= 0 || ho.ProbeInterval <= 0 || ho.ProbeTimeout <= 0 || ho.PollInterval < 0 {
			return errors.New("--conns-per-node, --pipeline-per-node, --herd-duration, --probe-interval and --probe-timeout must be positive")
		}
		ho.Conns, ho.Pipeline = *conns, *pipe
		return nil
	}
}

// tinyHerd shrinks ho to a few-second smoke run.
func tinyHerd(o *Options, ho *HerdOptions) {
	ho.Conns, ho.Pipeline, ho.Duration, ho.Rate = 2, 2, 500*time.Millisecond, 200
	ho.ProbeInterval, ho.ProbeTimeout, ho.Rounds = 20*time.Millisecond, 5*time.Second, 1
	o.Warmup = 200 * time.Millisecond
}

// PropagationMain is `herd-bench propagation`: one engine's five-node herd,
// its capacity, and propagation from Alford to Ball at fractions of it.
func PropagationMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("propagation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ho := DefaultHerdOptions()
	apply := herdFlags(fs, &ho)
	engine := fs.String("engine", "gnet", "herd engine: "+strings.Join(HerdEngines, ", "))
	levels := fs.String("levels", "0,25,50,80", "comma-separated load levels, percent of the measured capacity (0: idle)")
	warmup := fs.Duration("warmup", time.Second, "warm-up before each measured load run")
	tiny := fs.Bool("tiny", false, "a few-second smoke run of the tooling")
	out := fs.String("out", "-", "Markdown report `file`; - for stdout")
	jsonOut := fs.String("json", "", "also write the results to this JSON `file`")
	chartDir := fs.String("chart-dir", "", "draw the chart into this `dir`ectory (default: bench/charts beside --out; none for stdout)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: herd-bench propagation [flags]\n\nStarts a five-node herd (five processes), measures its closed-loop capacity over\nthe five nodes, then at each level runs open-loop load at that fraction of it while\nprobes enter at Alford and are polled at Ball (two hops).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := apply(); err != nil {
		fmt.Fprintln(stderr, "propagation:", err)
		return 2
	}
	ho.Levels = nil
	for _, f := range strings.Split(*levels, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 || v > 100 {
			fmt.Fprintf(stderr, "propagation: bad --levels %q (percentages 0..100)\n", *levels)
			return 2
		}
		ho.Levels = append(ho.Levels, v/100)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "propagation:", err)
		return 1
	}
	o := &Options{Herd: self, Warmup: *warmup, Log: stderr, Command: "herd-bench propagation " + strings.Join(args, " ")}
	if *tiny {
		tinyHerd(o, &ho)
	}
	res, err := Propagation(context.Background(), o, ho, *engine)
	if err != nil {
		fmt.Fprintln(stderr, "propagation:", err)
		return 1
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(stderr, "propagation:", err)
			return 1
		}
	}
	file := ""
	if dir, reportDir := chartPlace(*chartDir, *out); dir != "" {
		c, err := PropagationChart(res, dir, reportDir)
		if err != nil {
			fmt.Fprintln(stderr, "propagation: chart:", err)
		} else {
			file = c.File
		}
	}
	if err := writeSection(PropagationReport(res, file), *out, stdout); err != nil {
		fmt.Fprintln(stderr, "propagation:", err)
		return 1
	}
	for _, lr := range res.Levels {
		if lr.Failed != "" {
			return 1
		}
	}
	return 0
}

// chartPlace is where charts go and the directory their links are relative
// to: --chart-dir if given, else bench/charts beside a report file, else
// nowhere (a report on stdout).
func chartPlace(chartDir, out string) (dir, reportDir string) {
	reportDir = "."
	if out != "-" {
		reportDir = filepath.Dir(out)
	}
	switch {
	case chartDir != "":
		return chartDir, reportDir
	case out != "-":
		return filepath.Join(reportDir, "bench", "charts"), reportDir
	}
	return "", ""
}

// runHerdCell runs the herd cell for `herd-bench bench --topology five`
// and renders its section, charts drawn beside the report.
func runHerdCell(o *Options, ho HerdOptions, engines []string, chartDir, out string) (HerdResults, string, error) {
	res, err := Herd(context.Background(), o, ho, engines)
	if err != nil {
		return res, "", err
	}
	return res, renderHerd(res, chartDir, out, o.Log), nil
}

func renderHerd(res HerdResults, chartDir, out string, log io.Writer) string {
	var charts []chart
	if dir, reportDir := chartPlace(chartDir, out); dir != "" {
		var err error
		if charts, err = HerdCharts(res, dir, reportDir); err != nil {
			fmt.Fprintln(log, "bench: herd charts:", err)
		}
	}
	return HerdReport(res, charts)
}

// writeSection writes a five-node herd section to out ("-": stdout) as it
// is. It refuses a file holding the generated report's markers (such as
// BENCHMARKS.md), which only the matrix's report may replace: the herd
// cell gets there through --topology single,five.
func writeSection(section, out string, stdout io.Writer) error {
	if out == "-" {
		_, err := io.WriteString(stdout, section)
		return err
	}
	if old, err := os.ReadFile(out); err == nil && strings.Contains(string(old), reportBegin) {
		return fmt.Errorf("%s holds the generated report: write the section elsewhere, or run bench --topology single,five", out)
	}
	return os.WriteFile(out, []byte(section), 0o644)
}
