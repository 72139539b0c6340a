// Command herd runs herd nodes: every node of a topology in one process
// (herd up), one node as a deployment would (herd serve NAME), the offline
// places index as a Google stand-in (herd places-server), and the load
// generator (herd load).
//
// Exit codes: 0 success, 1 a runtime failure (a port in use, a node that
// could not start), 2 a usage or configuration error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/herdnet/herd/bench/load"
	"github.com/herdnet/herd/bench/runner"
)

const usage = `herd: a server herd that floods client locations between nodes

Usage:
  herd up [flags]              run every node of the topology in this process
                               (default: the five-node herd of PROTOCOL.md)
  herd serve NAME [flags]      run one node of the topology
  herd places-server [flags]   serve the offline places index over Google's
                               legacy Nearby Search HTTP API
  herd load [flags]            the load generator (checks every reply)
  herd bench [flags]           run the benchmark matrix, write BENCHMARKS.md
  herd echo-server [flags]     a gnet line-echo server: the benchmarks' ceiling
  herd help                    show this help

Run "herd COMMAND -h" for a command's flags.
`

// errFlagReported stands for a flag error the flag package has printed.
var errFlagReported = errors.New("bad flag")

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "up" || args[0] == "serve" {
		setGCDefaults()
	}
	var err error
	switch args[0] {
	case "up":
		err = cmdUp(args[1:], stdout, stderr)
	case "serve":
		err = cmdServe(args[1:], stdout, stderr)
	case "places-server":
		err = cmdPlacesServer(args[1:], stdout, stderr)
	case "load":
		return load.Main(args[1:], stdout, stderr)
	case "bench":
		return runner.Main(args[1:], stdout, stderr)
	case "echo-server":
		err = cmdEchoServer(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "herd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	code := 1
	if errors.Is(err, errFlagReported) {
		return 2 // the flag package already printed the problem and the usage
	}
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "herd: %v\n", err)
	return code
}

// parseArgs parses flags that may come before or after positional
// arguments ("herd serve Alford --config f" and "herd serve --config f
// Alford") and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: 2, err: errFlagReported}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}

// stopSignals delivers SIGINT and SIGTERM, the signals that stop a herd
// process gracefully, until the returned func is called.
func stopSignals() (<-chan os.Signal, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	return sig, func() { signal.Stop(sig) }
}
