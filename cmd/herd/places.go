package main

import (
	"fmt"
	"io"
	"net"

	"github.com/herdnet/herd/places"
)

func cmdPlacesServer(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("places-server", "herd places-server [--listen ADDR] [--places-data FILE]", stderr)
	listen := fs.String("listen", "127.0.0.1:12780", "host:port to serve the legacy Nearby Search API on")
	data := fs.String("places-data", "", "GeoNames dump `file` to serve instead of the embedded cities500 index")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("places-server takes no arguments (got %q)", pos)
	}
	cfg := places.DefaultConfig()
	cfg.DataFile = *data
	p, err := places.New(cfg)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := places.NewServer(p, places.ServerConfig{})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "herd places-server: serving %s on http://%s/maps/api/place/nearbysearch/json\n", p.Name(), ln.Addr())
	sig, stop := stopSignals()
	defer stop()
	select {
	case err := <-errc:
		return err
	case <-sig:
		return srv.Shutdown()
	}
}
