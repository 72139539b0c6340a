package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/node"
	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/provider"
	"github.com/herdnet/herd/snapshot"
)

// Engines are the I/O models a binary offers, by --engine name. "gnet"
// (node.Gnet) is the default and must be present.
type Engines map[string]node.NewServer

func (e Engines) names() string {
	names := make([]string, 0, len(e))
	for n := range e {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, " or ")
}

// nodeFlags are the flags of up and serve.
type nodeFlags struct {
	engines         Engines
	config          string
	logDir          string
	logLevel        string
	closeAfterReply bool
	loops           int
	engine          string
	debugAddr       string
	places          string
	placesURL       string
	placesData      string
	hup             <-chan os.Signal // SIGHUP: reload the config
	dataDir         string
	// dirPerNode: up keeps each node's data in DATA-DIR/NAME; serve in DATA-DIR.
	dirPerNode    bool
	logMaxSize    int
	logMaxBackups int
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "herd config `file` (YAML); default: the embedded five-node herd")
	fs.StringVar(&f.logDir, "log-dir", "logs", "`dir`ectory for one JSON log file per node (NAME.log); \"-\" logs to stderr")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level`: debug (every line received and sent), info (lifecycle, neighbours, errors, summaries of refusals), warn, error")
	fs.IntVar(&f.logMaxSize, "log-max-size", 100, "rotate a node's log file when it reaches this many `MB`")
	fs.IntVar(&f.logMaxBackups, "log-max-backups", 5, "rotated log files kept per node (older ones are deleted)")
	fs.BoolVar(&f.closeAfterReply, "close-after-reply", false, "close each client connection after its reply (for clients that read until EOF)")
	fs.IntVar(&f.loops, "loops", 0, "event loops per node; 0 means one per core")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this `host:port` (/debug/pprof/); keep it on loopback")
	f.engine = "gnet"
	if len(f.engines) > 1 {
		fs.StringVar(&f.engine, "engine", "gnet", "I/O model: gnet (the event loops) or goroutine (the goroutine-per-connection baseline, for benchmarks)")
	}
	fs.StringVar(&f.places, "places", "", "places backend: geonames (offline, default), google, google-new")
	fs.StringVar(&f.placesURL, "places-url", "", "base `URL` of the Google backend (tests, proxies, air-gapped mirrors)")
	fs.StringVar(&f.placesData, "places-data", "", "GeoNames dump `file` to load instead of the embedded cities500 index")
	where := "the node's snapshot"
	if f.dirPerNode {
		where = "one subdirectory per node (DIR/NAME/) for its snapshot"
	}
	fs.StringVar(&f.dataDir, "data-dir", "", "`dir`ectory to keep "+where+" in: loaded at start, written every persistence.snapshot_interval and on a graceful stop; empty: no persistence")
}

// nodeDataDir returns the data directory of the node called name, or "".
func (f *nodeFlags) nodeDataDir(name string) string {
	if f.dataDir == "" {
		return ""
	}
	if f.dirPerNode {
		return filepath.Join(f.dataDir, name)
	}
	return f.dataDir
}

// load reads the config and applies flag overrides.
func (f *nodeFlags) load() (*config.Config, error) {
	var cfg *config.Config
	var err error
	if f.config == "" {
		cfg = config.Default()
	} else if cfg, err = config.Load(f.config); err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if s := os.Getenv(config.SecretEnv); s != "" {
		cfg.Security.Secret = s
	}
	if s := os.Getenv(config.AdminTokenEnv); s != "" {
		cfg.Security.AdminToken = s
	}
	if f.closeAfterReply {
		cfg.Limits.CloseAfterReply = true
	}
	if f.places != "" {
		cfg.Places.Backend = f.places
	}
	if f.placesURL != "" {
		cfg.Places.URL = f.placesURL
	}
	if f.placesData != "" {
		cfg.Places.Data = f.placesData
	}
	if err := cfg.Validate(); err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if _, err := parseLevel(f.logLevel); err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if _, ok := f.engines[f.engine]; !ok {
		return nil, UsageErr("--engine %q: want %s", f.engine, f.engines.names())
	}
	if f.loops < 0 {
		return nil, UsageErr("--loops must not be negative")
	}
	if f.logMaxSize < 1 || f.logMaxBackups < 0 {
		return nil, UsageErr("--log-max-size must be positive and --log-max-backups not negative")
	}
	return cfg, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// runNodes starts the named nodes of cfg, prints where they listen, and
// runs until SIGINT or SIGTERM.
func runNodes(f *nodeFlags, cfg *config.Config, names []string, stdout, stderr io.Writer) error {
	sig, stop := StopSignals() // before anything starts, so no signal is missed
	defer stop()
	hup, stopHUP := reloadSignal()
	defer stopHUP()
	f.hup = hup
	fdOld, fdNew := raiseFDLimit()
	if f.logDir != "-" {
		if err := os.MkdirAll(f.logDir, 0o755); err != nil {
			return fmt.Errorf("log directory: %w", err)
		}
	}
	backend, err := provider.New(cfg.Places.ProviderConfig())
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	var logs nodeLogs
	defer logs.close()
	setup := f.setup(cfg, backend, &logs, stderr)
	if f.debugAddr != "" {
		stop, err := serveDebug(f.debugAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	if f.engine == "gnet" {
		loops := f.loops
		if loops == 0 {
			loops = runtime.NumCPU() // gnet's multicore default
		}
		SetProcsDefault(loops * len(names))
	}
	h, err := node.StartHerd(cfg, names, node.Options{Setup: setup, NewServer: f.engines[f.engine], Loops: f.loops, Admin: true, DataDir: f.nodeDataDir})
	if err != nil {
		return err
	}
	f.printStarted(stdout, h, backend.Name())
	if fdNew != fdOld {
		fmt.Fprintf(stdout, "herd: open-file limit raised from %d to %d\n", fdOld, fdNew)
	} else {
		fmt.Fprintf(stdout, "herd: open-file limit %d\n", fdNew)
	}
	f.printNodes(stdout, cfg, h)

	got, failed := waitReloading(f, h, &logs, sig, stdout, stderr)
	if failed != nil {
		// A reactor gave up (it logged why): exit non-zero, so that a
		// supervisor restarts the node, rather than idle without a listener.
		fmt.Fprintf(stdout, "herd: %v; shutting down\n", failed)
	} else {
		fmt.Fprintf(stdout, "herd: %s received, shutting down\n", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Config().Limits.ShutdownTimeout)
	defer cancel()
	err = h.Stop(ctx)
	if failed != nil {
		return failed
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// setup returns the node.Setup of the flags: each node logs JSON to
// stderr, or to its own rotated file in --log-dir, and answers WHATSAT
// from backend. It adds every node's logger and file to logs.
func (f *nodeFlags) setup(cfg *config.Config, backend places.Provider, logs *nodeLogs, stderr io.Writer) node.Setup {
	level, _ := parseLevel(f.logLevel)
	return func(nc config.Node) (herd.NodeOptions, *slog.Logger, error) {
		var w io.Writer = stderr
		if f.logDir != "-" {
			// Rotated at a size limit, so that logs never fill the disk.
			fl := &lumberjack.Logger{
				Filename:   filepath.Join(f.logDir, nc.Name+".log"),
				MaxSize:    f.logMaxSize,
				MaxBackups: f.logMaxBackups,
			}
			if _, err := fl.Write(nil); err != nil { // open it now: report a bad directory at start
				return herd.NodeOptions{}, nil, fmt.Errorf("log file: %w", err)
			}
			logs.files = append(logs.files, fl)
			w = fl
		}
		logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
		logs.nodes = append(logs.nodes, logger.With("node", nc.Name))
		opts := herd.NodeOptions{Name: nc.Name, Places: backend, PlacesTimeout: cfg.Places.Timeout, MaxInFlight: cfg.Places.MaxInFlight}
		return opts, logger, nil
	}
}

// printStarted says how many nodes run, with which engine and backend, and
// where they log.
func (f *nodeFlags) printStarted(stdout io.Writer, h *node.Herd, backend string) {
	logWhere := "stderr"
	if f.logDir != "-" {
		logWhere = f.logDir + "/NAME.log"
	}
	fmt.Fprintf(stdout, "herd: %d node(s) up (%s engine), places backend %s, logs in %s\n", len(h.Nodes), f.engine, backend, logWhere)
}

// printNodes says where each node listens, what it restored, and how to
// try it.
func (f *nodeFlags) printNodes(stdout io.Writer, cfg *config.Config, h *node.Herd) {
	for _, n := range h.Nodes {
		var nbs []string
		for _, nc := range cfg.Neighbors(n.Name()) {
			nbs = append(nbs, nc.Name)
		}
		fmt.Fprintf(stdout, "  %-10s %-21s neighbours: %s\n", n.Name(), n.Addr(), JoinNames(nbs))
	}
	for _, n := range h.Nodes {
		if a := n.AdminAddr(); a != "" {
			fmt.Fprintf(stdout, "  %-10s page http://%s/  (metrics /metrics, health /livez /readyz, /status)\n", n.Name(), a)
		}
	}
	if f.dataDir != "" {
		where := filepath.Join(f.nodeDataDir("NAME"), snapshot.FileName)
		var restored []string
		for _, n := range h.Nodes {
			s := fmt.Sprintf("%s %d", n.Name(), n.Restored.Info.Count)
			if n.Restored.Rejected != nil {
				s += " (snapshot rejected, moved aside; see the log)"
			}
			restored = append(restored, s)
		}
		fmt.Fprintf(stdout, "snapshots in %s every %v and on stop; clients restored: %s\n", where, cfg.Persistence.SnapshotInterval, strings.Join(restored, ", "))
	}
	if cfg.Security.Secret == "" && !cfg.Security.TLS.Enabled() {
		fmt.Fprintf(stdout, "warning: no herd secret (security.secret or %s): clients can forge AT updates; see docs/SECURITY.md\n", config.SecretEnv)
	}
	host, port, _ := strings.Cut(h.Nodes[0].Addr(), ":")
	fmt.Fprintf(stdout, "Try: telnet %s %s   (Ctrl-C stops)\n", host, port)
}

// Up is "PROG up": every node of the topology in this process.
func Up(prog string, engines Engines, args []string, stdout, stderr io.Writer) error {
	f := nodeFlags{engines: engines, dirPerNode: true}
	fs := NewFlagSet("up", prog+" up [--config FILE] [flags]", stderr)
	f.register(fs)
	pos, err := ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return UsageErr("up takes no arguments (got %q); to run one node use: herd serve NAME", pos)
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	names := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		names[i] = n.Name
	}
	return runNodes(&f, cfg, names, stdout, stderr)
}

// Serve is "PROG serve NAME": one node of the topology.
func Serve(prog string, engines Engines, args []string, stdout, stderr io.Writer) error {
	f := nodeFlags{engines: engines}
	fs := NewFlagSet("serve", prog+" serve NAME [--config FILE] [flags]", stderr)
	f.register(fs)
	pos, err := ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return UsageErr("serve needs exactly one node name, e.g. herd serve Alford")
	}
	cfg, err := f.load()
	if err != nil {
		return err
	}
	if _, err := cfg.Node(pos[0]); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	return runNodes(&f, cfg, pos, stdout, stderr)
}
