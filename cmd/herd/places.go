package main

import (
	"fmt"
	"io"
	"net"

	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/internal/cli"
	"github.com/herdnet/herd/places/httpapi"
	"github.com/herdnet/herd/places/provider"
)

func cmdPlacesServer(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("places-server", "herd places-server [--listen ADDR] [--places-data FILE]", stderr)
	listen := fs.String("listen", "127.0.0.1:12780", "host:port to serve the legacy Nearby Search API on")
	data := fs.String("places-data", "", "GeoNames dump `file` to serve instead of the embedded cities500 index")
	pos, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cli.UsageErr("places-server takes no arguments (got %q)", pos)
	}
	p, err := provider.New(config.Places{Data: *data}.ProviderConfig())
	if err != nil {
		return &cli.ExitError{Code: 2, Err: err}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := httpapi.NewServer(p, httpapi.ServerConfig{})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "herd places-server: serving %s on http://%s/maps/api/place/nearbysearch/json\n", p.Name(), ln.Addr())
	sig, stop := cli.StopSignals()
	defer stop()
	select {
	case err := <-errc:
		return err
	case <-sig:
		return srv.Shutdown()
	}
}
