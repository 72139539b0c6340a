package load

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"
)

// Main is "herd-bench load": it parses args (without the program or command
// name) with its own flag set, runs, and prints the result to stdout. It
// returns 0 when the run finished without errors, 1 when the run failed or
// found wrong or missing replies, and 2 for bad flags. An interrupt
// (SIGINT) stops the run.
func Main(args []string, stdout, stderr io.Writer) int {
	opt := DefaultOptions()
	fs := flag.NewFlagSet("herd-bench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opt.Addr, "addr", opt.Addr, "server address, host:port in 127.0.0.0/8")
	fs.IntVar(&opt.Conns, "conns", opt.Conns, fmt.Sprintf("connections (1..%d)", MaxConns))
	fs.IntVar(&opt.Pipeline, "pipeline", opt.Pipeline, "requests in flight per connection")
	fs.DurationVar(&opt.Duration, "duration", opt.Duration, "measured duration (ignored with -requests)")
	fs.Int64Var(&opt.Requests, "requests", 0, "measured requests in total (0: run for -duration)")
	fs.DurationVar(&opt.Warmup, "warmup", opt.Warmup, "warmup before measuring")
	fs.Float64Var(&opt.Rate, "rate", 0, "open loop: total requests/s at fixed intervals (0: closed loop)")
	mix := fs.String("mix", string(opt.Mix), "protocol and requests: herd, echo or redis")
	fs.StringVar(&opt.ClientPrefix, "prefix", opt.ClientPrefix, "client id prefix (ids are <prefix><conn>-<n>); differ it between concurrent generators")
	fs.IntVar(&opt.IDsPerConn, "ids-per-conn", opt.IDsPerConn, "distinct clients each connection reports for in turn: 1000 is the cold workload, 1 the hot one")
	fs.Float64Var(&opt.WhatsatFrac, "whatsat", 0, "herd mix: fraction of WHATSAT requests")
	fs.Float64Var(&opt.InvalidFrac, "invalid", 0, "herd mix: fraction of invalid lines")
	fs.StringVar(&opt.Radius, "radius", opt.Radius, "WHATSAT radius in km")
	fs.IntVar(&opt.Bound, "bound", opt.Bound, "WHATSAT result bound (1..20)")
	fs.IntVar(&opt.PID, "pid", 0, "server process id: report its CPU per request and RSS from /proc")
	fs.DurationVar(&opt.ReplyTimeout, "timeout", opt.ReplyTimeout, "longest wait for a reply")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	progress := fs.Bool("progress", false, "when stderr is not a terminal (no progress bar), print a progress line every 5s")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this `file` (go tool pprof)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: herd-bench load [flags]\n\nLoads a server on loopback and checks every reply.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "herd-bench load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	opt.Mix = Mix(*mix)
	if err := opt.validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	clearBar := func() {}
	switch {
	case isTerminal(stderr):
		var bar *progressbar.ProgressBar
		opt.ProgressInterval = 250 * time.Millisecond
		bar, opt.Progress = progressBar(stderr, opt)
		clearBar = func() { _ = bar.Clear() }
	case *progress:
		opt.ProgressInterval = 5 * time.Second
		opt.Progress = func(p Progress) { fmt.Fprintln(stderr, progressLine(p, opt)) }
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "herd-bench load:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "herd-bench load:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := Run(ctx, opt)
	clearBar()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	} else {
		WriteTable(stdout, res)
	}
	if res.Errors > 0 {
		return 1
	}
	return 0
}

// progressBar returns a progress bar drawn on w and the Options.Progress
// callback that advances it: over the run's time, or over its measured
// requests when it has a count.
func progressBar(w io.Writer, opt Options) (*progressbar.ProgressBar, func(Progress)) {
	total, byCount := (opt.Warmup + opt.Duration).Milliseconds(), opt.Requests > 0
	if byCount {
		total = opt.Requests
	}
	options := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(20),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionSetPredictTime(!byCount),
		progressbar.OptionSetElapsedTime(true),
	}
	if byCount {
		options = append(options, progressbar.OptionShowCount())
	}
	bar := progressbar.NewOptions64(max(total, 1), options...)
	return bar, func(p Progress) {
		bar.Describe(progressStatus(p))
		done := p.Elapsed.Milliseconds()
		if byCount {
			done = p.Measured
		}
		// Stay short of the end: Set64 at the maximum finishes the bar, and
		// the run may still be draining replies.
		_ = bar.Set64(min(done, max(total, 1)-1))
	}
}

// progressLine is the plain line -progress prints when stderr is not a
// terminal (a log, where a redrawn bar would only add noise).
func progressLine(p Progress, opt Options) string {
	if opt.Requests > 0 {
		return fmt.Sprintf("%6.1fs  %d/%d replies  %s", p.Elapsed.Seconds(), p.Measured, opt.Requests, progressStatus(p))
	}
	return fmt.Sprintf("%6.1fs/%.1fs  %s", p.Elapsed.Seconds(), (opt.Warmup + opt.Duration).Seconds(), progressStatus(p))
}

func progressStatus(p Progress) string {
	phase := "measuring"
	if p.Warmup {
		phase = "warmup"
	}
	return fmt.Sprintf("%-9s %9.0f req/s %6d errors", phase, p.PerSecond, p.Errors)
}

// isTerminal reports whether w is a file open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// WriteTable prints res as a readable table.
func WriteTable(w io.Writer, res Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mode := "closed loop"
	if res.Mode == "open" {
		mode = fmt.Sprintf("open loop, %.0f req/s target", res.Rate)
	}
	fmt.Fprintf(tw, "target\t%s (%s mix)\n", res.Addr, res.Mix)
	fmt.Fprintf(tw, "load\t%d conns x pipeline %d, %s\n", res.Conns, res.Pipeline, mode)
	fmt.Fprintf(tw, "requests\t%d (+%d warmup)\n", res.Requests, res.WarmupRequests)
	fmt.Fprintf(tw, "duration\t%.3f s\n", res.DurationSec)
	fmt.Fprintf(tw, "throughput\t%.0f req/s\n", res.RequestsPerSec)
	fmt.Fprintf(tw, "latency p50\t%.1f µs\n", res.Latency.P50)
	fmt.Fprintf(tw, "latency p99\t%.1f µs\n", res.Latency.P99)
	fmt.Fprintf(tw, "latency p99.9\t%.1f µs\n", res.Latency.P999)
	fmt.Fprintf(tw, "latency max\t%.1f µs\n", res.Latency.Max)
	if l := res.SendLag; l != nil {
		fmt.Fprintf(tw, "send lag\tp50 %.1f µs, p99 %.1f µs, max %.1f µs (behind the open-loop schedule)\n", l.P50, l.P99, l.Max)
	}
	if res.Unsent > 0 {
		fmt.Fprintf(tw, "unsent\t%d requests due but held back by the full pipeline at the end (in the latency figures)\n", res.Unsent)
	}
	fmt.Fprintf(tw, "errors\t%d (%d wrong, %d missing)\n", res.Errors, res.WrongReplies, res.MissingReplies)
	if res.PID > 0 {
		fmt.Fprintf(tw, "server cpu\t%.2f s, %.2f µs/request (pid %d, %d Hz ticks)\n",
			res.ServerCPUSec, res.CPUUsPerRequest, res.PID, res.ClockTicks)
		fmt.Fprintf(tw, "client cpu\t%.2f µs/request (this load generator)\n", res.ClientCPUUsPerRequest)
		fmt.Fprintf(tw, "server rss\t%.1f MiB\n", float64(res.ServerRSSBytes)/(1<<20))
	}
	tw.Flush()
	for _, ex := range res.ErrorExamples {
		fmt.Fprintf(w, "  %s\n", ex)
	}
}
