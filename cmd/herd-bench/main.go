// Command herd-bench is Herd's benchmark binary, as redis-benchmark sits
// beside redis-server: the load generator (load), the benchmark matrix that
// writes BENCHMARKS.md (bench, with --topology five the herd cell), a
// five-node herd's propagation under load (propagation), a line-echo server that is the
// benchmarks' ceiling (echo-server, on gnet or a goroutine per
// connection), and the node commands (up, serve) with
// a second I/O model, the goroutine-per-connection baseline
// (--engine goroutine). Operators deploy herd, never this.
//
// Exit codes: 0 success, 1 a runtime failure, 2 a usage error.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/herdnet/herd/bench/baseline"
	"github.com/herdnet/herd/bench/load"
	"github.com/herdnet/herd/bench/runner"
	"github.com/herdnet/herd/herd"
	"github.com/herdnet/herd/internal/cli"
	"github.com/herdnet/herd/node"
)

const usage = `herd-bench: load and benchmark tools for Herd

Usage:
  herd-bench load [flags]          the load generator (checks every reply)
  herd-bench bench [flags]         run the benchmark matrix, write BENCHMARKS.md
                                   (--topology five: the herd cell, five-node herds side by side)
  herd-bench propagation [flags]   a five-node herd's propagation (Alford to Ball) under load
  herd-bench echo-server [flags]   a line-echo server (gnet, or --engine goroutine): the ceiling
  herd-bench up [flags]            herd up, with --engine gnet|goroutine
  herd-bench serve NAME [flags]    herd serve, with --engine gnet|goroutine
  herd-bench help                  show this help

Run "herd-bench COMMAND -h" for a command's flags.
`

// engines: the gnet node and the goroutine-per-connection baseline, built
// from the same codec, herd and peer packages.
var engines = cli.Engines{"gnet": node.Gnet, "goroutine": goroutine}

func goroutine(node *herd.Node, sc node.ServerConfig) node.Server {
	return baseline.New(node, baseline.Config{Listen: sc.Listen, Limits: sc.Limits, Logger: sc.Logger, HandOff: sc.HandOff})
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
		cli.SetGCDefaults()
	}
	var err error
	switch args[0] {
	case "load":
		return load.Main(args[1:], stdout, stderr)
	case "bench":
		return runner.Main(args[1:], stdout, stderr)
	case "propagation":
		return runner.PropagationMain(args[1:], stdout, stderr)
	case "echo-server":
		err = cmdEchoServer(args[1:], stdout, stderr)
	case "up":
		err = cli.Up("herd-bench", engines, args[1:], stdout, stderr)
	case "serve":
		err = cli.Serve("herd-bench", engines, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "herd-bench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return cli.Code("herd-bench", err, stderr)
}
