package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/herdnet/herd/bench/echo"
	"github.com/herdnet/herd/internal/cli"
)

func cmdEchoServer(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("echo-server", "herd-bench echo-server [--listen ADDR] [--engine gnet|goroutine]", stderr)
	listen := fs.String("listen", "127.0.0.1:12790", "host:port to listen on")
	engine := fs.String("engine", "gnet", "I/O model: gnet (event loops, one per core) or goroutine (one goroutine per connection)")
	pos, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cli.UsageErr("echo-server takes no arguments (got %q)", pos)
	}
	var s interface {
		Addr() string
		Stop(context.Context) error
	}
	switch *engine {
	case "gnet":
		s, err = echo.Start(*listen)
	case "goroutine":
		s, err = echo.StartGoroutine(*listen)
	default:
		return cli.UsageErr("--engine must be gnet or goroutine (got %q)", *engine)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "herd-bench echo-server: echoing lines on %s (%s)\n", s.Addr(), *engine)
	sig, stop := cli.StopSignals()
	defer stop()
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Stop(ctx)
}
