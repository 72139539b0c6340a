package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herdnet/herd/bench/load"
)

// Options is one benchmark run.
type Options struct {
	Herd     string   // path to the herd binary
	Engines  []string // gnet, goroutine, twisted, node, redis, echo, echo-goroutine
	Conns    []int    // connection counts
	Pipeline []int    // pipeline depths
	// Workloads are "cold" (each connection rotates through 1,000 clients)
	// and "hot" (one client per connection); client times always grow, so
	// every IAMAT is stored. Empty means cold only.
	Workloads []string
	Rounds    int           // repetitions of every cell
	Duration  time.Duration // measured time per run
	Warmup    time.Duration
	Out       string // BENCHMARKS.md path; "" prints to stdout
	ChartDir  string // where the PNG charts go; "" draws none
	GoBench   string // go test -bench output to quote in the report; "" for none
	Quick     bool
	Command   string // the command line, recorded in the report
	Log       io.Writer
}

// Sample is one load run's result, as `herd-bench load --json` prints it.
type Sample struct {
	Engine      string  `json:"engine"`
	Workload    string  `json:"workload,omitempty"`
	Conns       int     `json:"conns"`
	Pipeline    int     `json:"pipeline"`
	Round       int     `json:"round"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	RPS         float64 `json:"rps"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	P999us      float64 `json:"p999_us"`
	CPUusPerReq float64 `json:"server_cpu_us_per_req"`
	ClientCPUus float64 `json:"client_cpu_us_per_req"`
	RSSBytes    int64   `json:"server_rss_bytes"`
	// GCFrac is the share of the node's CPU its garbage collector used
	// during the run (herd engines only; -1 when not measured).
	GCFrac float64 `json:"gc_cpu_frac"`
	Failed string  `json:"failed,omitempty"`
}

// idsPerConn is the load generator's --ids-per-conn for a workload.
func idsPerConn(workload string) int {
	if workload == "hot" {
		return 1
	}
	return load.DefaultIDsPerConn
}

func fromResult(r load.Result) Sample {
	return Sample{Requests: r.Requests, Errors: r.Errors, RPS: r.RequestsPerSec, P50us: r.Latency.P50, P99us: r.Latency.P99,
		P999us: r.Latency.P999, CPUusPerReq: r.CPUUsPerRequest, ClientCPUus: r.ClientCPUUsPerRequest, RSSBytes: r.ServerRSSBytes}
}

// server is a running server process.
type server struct {
	name  string
	addr  string
	debug string // the node's --debug-addr, "" for other engines
	cmd   *exec.Cmd
}

// cpuStats reads a node's /debug/herd/cpu: GC and process CPU seconds.
func (s *server) cpuStats() (gc, cpu float64, err error) {
	if s.debug == "" {
		return 0, 0, errors.New("no debug address")
	}
	resp, err := http.Get("http://" + s.debug + "/debug/herd/cpu")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscanf(string(b), "%g %g", &gc, &cpu)
	return gc, cpu, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot finds the module root (for the Twisted peer's script).
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// Available reports whether engine can run on this machine, and why not.
func Available(engine string) error {
	switch engine {
	case "twisted":
		if err := exec.Command("/usr/bin/python3", "-c", "import twisted").Run(); err != nil {
			return errors.New("python3-twisted is not installed (apt-get install python3-twisted)")
		}
		if _, err := os.Stat(filepath.Join(repoRoot(), "bench/peers/twisted/herd_node.py")); err != nil {
			return errors.New("bench/peers/twisted/herd_node.py not found: run herd-bench bench from the repository")
		}
	case "redis":
		if _, err := exec.LookPath("redis-server"); err != nil {
			return errors.New("redis-server is not installed (apt-get install redis-server)")
		}
	case "node":
		if _, err := exec.LookPath("node"); err != nil {
			return errors.New("node (Node.js) is not installed")
		}
		if _, err := os.Stat(filepath.Join(repoRoot(), "bench/peers/node/herd_node.js")); err != nil {
			return errors.New("bench/peers/node/herd_node.js not found: run herd-bench bench from the repository")
		}
	case "gnet", "goroutine", "echo", "echo-goroutine":
	default:
		return fmt.Errorf("unknown engine %q", engine)
	}
	return nil
}

// start launches engine on a free loopback port and waits until it accepts
// (and, for a herd node, until its /readyz says ready: its offline index is
// built after it listens, which would otherwise cost CPU during the load).
func start(o *Options, engine, dir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var cmd *exec.Cmd
	debug, admin := "", ""
	switch engine {
	case "gnet", "goroutine":
		cfg := filepath.Join(dir, "bench-"+strconv.Itoa(port)+".yaml")
		aport, err := freePort()
		if err != nil {
			return nil, err
		}
		admin = "127.0.0.1:" + strconv.Itoa(aport)
		yaml := fmt.Sprintf("nodes:\n  - name: Alford\n    listen: %s\n    admin: %s\n", addr, admin)
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			return nil, err
		}
		dport, err := freePort()
		if err != nil {
			return nil, err
		}
		debug = "127.0.0.1:" + strconv.Itoa(dport)
		cmd = exec.Command(o.Herd, "serve", "Alford", "--config", cfg, "--engine", engine, "--log-level", "warn", "--log-dir", dir, "--debug-addr", debug)
	case "echo":
		cmd = exec.Command(o.Herd, "echo-server", "--listen", addr)
	case "echo-goroutine":
		cmd = exec.Command(o.Herd, "echo-server", "--listen", addr, "--engine", "goroutine")
	case "twisted":
		cmd = exec.Command("/usr/bin/python3", filepath.Join(repoRoot(), "bench/peers/twisted/herd_node.py"), "Alford", "--port", strconv.Itoa(port))
	case "node":
		cmd = exec.Command("node", filepath.Join(repoRoot(), "bench/peers/node/herd_node.js"), "Alford", "--port", strconv.Itoa(port))
	case "redis":
		cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", "20000", "--loglevel", "warning")
	default:
		return nil, fmt.Errorf("unknown engine %q", engine)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", engine, err)
	}
	s := &server{name: engine, addr: addr, debug: debug, cmd: cmd}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			if admin != "" {
				// Listening comes first; the offline index is built after.
				if err := waitReady(admin, deadline); err != nil {
					s.stop()
					return nil, fmt.Errorf("%s: %w", engine, err)
				}
			}
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not start listening on %s", engine, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady waits until GET /readyz at admin answers 200, until deadline.
func waitReady(admin string, deadline time.Time) error {
	hc := http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz never answered 200", admin)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func protoOf(engine string) string {
	switch engine {
	case "echo", "echo-goroutine":
		return "echo"
	case "redis":
		return "redis"
	}
	return "herd"
}

// runLoad runs `herd-bench load --json` against s.
func runLoad(o *Options, s *server, conns, pipeline int, extra ...string) (Sample, error) {
	gc0, cpu0, gcErr := s.cpuStats()
	args := []string{"load", "--addr", s.addr, "--conns", strconv.Itoa(conns), "--pipeline", strconv.Itoa(pipeline),
		"--duration", o.Duration.String(), "--warmup", o.Warmup.String(), "--mix", protoOf(s.name),
		"--pid", strconv.Itoa(s.cmd.Process.Pid), "--json"}
	args = append(args, extra...)
	var out, errb bytes.Buffer
	cmd := exec.Command(o.Herd, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var res load.Result
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		return Sample{}, fmt.Errorf("herd %s: %v %v: %s", strings.Join(args, " "), err, jerr, strings.TrimSpace(errb.String()))
	}
	smp := fromResult(res)
	smp.GCFrac = -1
	if gc1, cpu1, err := s.cpuStats(); gcErr == nil && err == nil && cpu1 > cpu0 {
		smp.GCFrac = (gc1 - gc0) / (cpu1 - cpu0)
	}
	return smp, nil
}

// Run runs the matrix and returns every sample.
func Run(ctx context.Context, o *Options) ([]Sample, error) {
	dir, err := os.MkdirTemp("", "herd-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var engines []string
	for _, e := range o.Engines {
		if err := Available(e); err != nil {
			fmt.Fprintf(o.Log, "bench: skipping %s: %v\n", e, err)
			continue
		}
		engines = append(engines, e)
	}
	var samples []Sample
	workloads := o.Workloads
	if len(workloads) == 0 {
		workloads = []string{""}
	}
	total := o.Rounds * len(workloads) * len(o.Conns) * len(o.Pipeline) * len(engines)
	n := 0
	for round := 1; round <= o.Rounds; round++ {
		for _, wl := range workloads {
			for _, conns := range o.Conns {
				for _, pipe := range o.Pipeline {
					// Alternate the order of engines from round to round.
					order := slices.Clone(engines)
					if round%2 == 0 {
						slices.Reverse(order)
					}
					for _, e := range order {
						if ctx.Err() != nil {
							return samples, ctx.Err()
						}
						n++
						fmt.Fprintf(o.Log, "bench: [%d/%d] round %d %-9s %-4s conns=%-5d pipeline=%-2d ", n, total, round, e, wl, conns, pipe)
						s, err := start(o, e, dir)
						if err != nil {
							return samples, err
						}
						smp, err := runLoad(o, s, conns, pipe, "--ids-per-conn", strconv.Itoa(idsPerConn(wl)))
						s.stop()
						smp.Engine, smp.Workload, smp.Conns, smp.Pipeline, smp.Round = e, wl, conns, pipe, round
						if err != nil {
							smp.Failed = err.Error()
							fmt.Fprintf(o.Log, "FAILED: %v\n", err)
						} else {
							fmt.Fprintf(o.Log, "%10.0f req/s  p99 %7.0f µs  cpu %5.2f µs/req  errors %d\n", smp.RPS, smp.P99us, smp.CPUusPerReq, smp.Errors)
						}
						samples = append(samples, smp)
					}
				}
			}
		}
	}
	return samples, nil
}

// Main is `herd-bench bench`: it parses flags, runs the matrix and writes the report.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a small matrix (under two minutes)")
	tiny := fs.Bool("tiny", false, "a few-second smoke run of the tooling (CI)")
	out := fs.String("out", "BENCHMARKS.md", "report `file`; - for stdout")
	engines := fs.String("engines", "gnet,goroutine,twisted,node,redis,echo,echo-goroutine", "comma-separated engines: gnet, goroutine, twisted, node, redis, echo, echo-goroutine (echo on one goroutine per connection: with echo, the I/O models' own costs)")
	rounds := fs.Int("rounds", 3, "repetitions of every cell")
	workloads := fs.String("workloads", "cold,hot", "comma-separated workloads: cold (1,000 clients per connection), hot (one per connection)")
	conns := fs.String("conns", "", "comma-separated connection counts (default: the matrix's)")
	pipes := fs.String("pipeline", "", "comma-separated pipeline depths (default: the matrix's)")
	extras := fs.Bool("extras", true, "also measure memory, propagation and the WHATSAT mix")
	dur := fs.Duration("duration", 5*time.Second, "measured time per run")
	jsonOut := fs.String("json", "", "also write every sample to this JSON `file`")
	gobench := fs.String("gobench", "", "include the Go micro-benchmark output in this `file` (go test -bench) in the report")
	redoExtras := fs.Bool("redo-extras", false, "with --from: measure memory, propagation and the WHATSAT mix again, keep the matrix, and save both back to the --from file")
	from := fs.String("from", "", "do not run: re-render the report from a JSON `file` written by --json")
	topology := fs.String("topology", "single", "comma-separated: single (one node per engine, the matrix) and five (the herd cell: five processes per engine in the five-node topology, load on every node)")
	ho := DefaultHerdOptions()
	fs.Float64Var(&ho.Rate, "herd-rate", ho.Rate, "five-node herd: the fixed open-loop rate (IAMAT/s over the five nodes) at which every engine's propagation is measured")
	applyHerd := herdFlags(fs, &ho)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := applyHerd(); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	single, five := false, false
	for _, t := range strings.Split(*topology, ",") {
		switch t {
		case "single":
			single = true
		case "five":
			five = true
		default:
			fmt.Fprintf(stderr, "bench: unknown topology %q (single, five)\n", t)
			return 2
		}
	}
	if five && !single && !set["out"] {
		*out = "-" // the herd cell alone is one section: print it rather than replace BENCHMARKS.md
	}
	herdEngines := HerdEngines
	if set["engines"] {
		herdEngines = strings.Split(*engines, ",")
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	o := &Options{Herd: self, Engines: strings.Split(*engines, ","), Conns: []int{1, 100, 1000, 10000}, Pipeline: []int{1, 16},
		Rounds: *rounds, Duration: *dur, Warmup: time.Second, Out: *out, Log: stderr, Command: "herd-bench bench " + strings.Join(args, " ")}
	switch {
	case *tiny:
		o.Quick = true
		o.Conns, o.Pipeline, o.Rounds, o.Duration, o.Warmup = []int{1, 10}, []int{1, 4}, 1, 300*time.Millisecond, 100*time.Millisecond
	case *quick:
		o.Quick = true
		o.Conns, o.Rounds, o.Duration, o.Warmup = []int{1, 100, 1000}, 1, 2*time.Second, 500*time.Millisecond
	}
	ho.Rounds = o.Rounds
	if *tiny {
		tinyHerd(o, &ho)
		o.Warmup = 100 * time.Millisecond
	}
	o.Workloads = strings.Split(*workloads, ",")
	for _, w := range o.Workloads {
		if w != "cold" && w != "hot" {
			fmt.Fprintf(stderr, "bench: unknown workload %q (cold, hot)\n", w)
			return 2
		}
	}
	if *conns != "" {
		if o.Conns = intList(*conns); o.Conns == nil {
			fmt.Fprintf(stderr, "bench: bad --conns %q\n", *conns)
			return 2
		}
	}
	if *pipes != "" {
		if o.Pipeline = intList(*pipes); o.Pipeline == nil {
			fmt.Fprintf(stderr, "bench: bad --pipeline %q\n", *pipes)
			return 2
		}
	}
	if *out != "-" {
		o.ChartDir = filepath.Join(filepath.Dir(*out), "bench", "charts")
	}
	o.GoBench = *gobench
	if *from != "" {
		return rerender(o, *from, *out, *redoExtras, stdout, stderr)
	}
	ctx := context.Background()
	var (
		samples []Sample
		extra   ExtraResults
		herd    *HerdResults
		report  string
	)
	if single {
		samples, err = Run(ctx, o)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		if *extras {
			extra = Extras(ctx, o)
		}
		report = Report(o, samples, extra)
	}
	if five {
		res, section, err := runHerdCell(o, ho, herdEngines, "", *out)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		herd, report = &res, report+section
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(savedRun{samples, extra, herd}, "", "  ")
		_ = os.WriteFile(*jsonOut, b, 0o644)
	}
	write := writeReport
	if !single {
		write = writeSection
	}
	if err := write(report, *out, stdout); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	failed := false
	for _, s := range samples {
		failed = failed || s.Failed != "" || s.Errors > 0
	}
	if herd != nil {
		for _, c := range herd.Cells {
			failed = failed || c.Failed != ""
		}
	}
	if failed {
		fmt.Fprintln(stderr, "bench: some runs failed or saw wrong replies; see the report")
		return 1
	}
	return 0
}

// savedRun is what --json writes and --from reads back.
type savedRun struct {
	Samples []Sample
	Extras  ExtraResults
	Herd    *HerdResults `json:",omitempty"`
}

// The generated report's place in BENCHMARKS.md: everything between these
// two lines is the last run's report; everything outside them is written by
// hand and kept when a run writes the report again.
const (
	reportBegin = "<!-- herd-bench bench writes from here to the end marker; edit outside the markers -->"
	reportEnd   = "<!-- end of the report written by herd-bench bench -->"
	reportTitle = "# Herd benchmarks\n\n"
)

// writeReport writes report to out ("-": stdout). When out already holds
// the markers, only what lies between them is replaced; otherwise out gets
// the report inside a new pair of markers.
func writeReport(report, out string, stdout io.Writer) error {
	if out == "-" {
		_, err := io.WriteString(stdout, report)
		return err
	}
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(out, []byte(spliceReport(string(old), report)), 0o644)
}

// spliceReport returns doc with report between its markers, or, when doc
// has no pair of markers, report alone, inside markers.
func spliceReport(doc, report string) string {
	body := strings.TrimPrefix(report, reportTitle)
	i := strings.Index(doc, reportBegin)
	j := strings.Index(doc, reportEnd)
	if i < 0 || j < i {
		return reportTitle + reportBegin + "\n\n" + body + "\n" + reportEnd + "\n"
	}
	return doc[:i+len(reportBegin)] + "\n\n" + body + "\n" + doc[j:]
}

// rerender rebuilds the report from saved samples; the matrix is read off
// the samples, the run length from the flags (--duration).
func rerender(o *Options, from, out string, redoExtras bool, stdout, stderr io.Writer) int {
	b, err := os.ReadFile(from)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	var saved savedRun
	if err := json.Unmarshal(b, &saved); err != nil {
		fmt.Fprintf(stderr, "bench: %s: %v\n", from, err)
		return 1
	}
	o.Conns, o.Pipeline, o.Rounds = nil, nil, 0
	for _, s := range saved.Samples {
		if !slices.Contains(o.Conns, s.Conns) {
			o.Conns = append(o.Conns, s.Conns)
		}
		if !slices.Contains(o.Pipeline, s.Pipeline) {
			o.Pipeline = append(o.Pipeline, s.Pipeline)
		}
		o.Rounds = max(o.Rounds, s.Round)
	}
	if redoExtras {
		saved.Extras = Extras(context.Background(), o)
		b, _ := json.MarshalIndent(saved, "", "  ")
		if err := os.WriteFile(from, b, 0o644); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	o.Command = "make bench (herd-bench bench --out BENCHMARKS.md --json bench/results/matrix.json --gobench bench/results/go-bench.txt), report rendered again from its saved samples with herd-bench bench --from " + filepath.Base(from)
	if redoExtras {
		o.Command += " --redo-extras (memory, propagation and the WHATSAT mix measured again)"
	}
	report := ""
	if len(saved.Samples) > 0 {
		report = Report(o, saved.Samples, saved.Extras)
	}
	if saved.Herd != nil {
		report += renderHerd(*saved.Herd, "", out, stderr)
	}
	write := writeReport
	if len(saved.Samples) == 0 {
		write = writeSection
	}
	if err := write(report, out, stdout); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

// intList parses "1,10,100"; nil if any item is not a positive integer.
func intList(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil
		}
		out = append(out, n)
	}
	return out
}
