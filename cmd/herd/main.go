// Command herd runs herd nodes: every node of a topology in one process
// (herd up), one node as a deployment would (herd serve NAME), and the
// offline places index as a Google stand-in (herd places-server). Its client
// commands talk to running nodes (herd iamat, herd whatsat, herd status) and
// check a config file (herd config check). The
// benchmark tools live in a separate binary, herd-bench.
//
// Exit codes: 0 success, 1 a runtime failure (a port in use, a node that
// could not start), 2 a usage or configuration error.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/herdnet/herd/internal/cli"
	"github.com/herdnet/herd/node"
)

const usage = `herd: a server herd that floods client locations between nodes

Usage:
  herd up [flags]              run every node of the topology in this process
                               (default: the five-node herd of docs/PROTOCOL.md)
  herd serve NAME [flags]      run one node of the topology
  herd places-server [flags]   serve the offline places index over Google's
                               legacy Nearby Search HTTP API
  herd iamat [--addr A] CLIENT LOCATION
                               report a client's location (now) to a node
  herd whatsat [--addr A] CLIENT RADIUS_KM BOUND
                               ask a node for places near a client
  herd status [--config FILE]  each node up or down, clients, links (admin ports)
  herd config check FILE       validate a config file
  herd help                    show this help

Run "herd COMMAND -h" for a command's flags. The load generator and the
benchmark matrix are in the herd-bench binary.
`

// engines: the node binary offers the event loops only.
var engines = cli.Engines{"gnet": node.Gnet}

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
	case "up":
		err = cli.Up("herd", engines, args[1:], stdout, stderr)
	case "serve":
		err = cli.Serve("herd", engines, args[1:], stdout, stderr)
	case "places-server":
		err = cmdPlacesServer(args[1:], stdout, stderr)
	case "iamat":
		err = cmdIAMAT(args[1:], stdout, stderr)
	case "whatsat":
		err = cmdWhatsat(args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(args[1:], stdout, stderr)
	case "config":
		err = cmdConfig(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "herd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return cli.Code("herd", err, stderr)
}
