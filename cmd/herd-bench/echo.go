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
	fs := cli.NewFlagSet("echo-server", "herd-bench echo-server [--listen ADDR]", stderr)
	listen := fs.String("listen", "127.0.0.1:12790", "host:port to listen on")
	pos, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cli.UsageErr("echo-server takes no arguments (got %q)", pos)
	}
	s, err := echo.Start(*listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "herd-bench echo-server: echoing lines on %s\n", s.Addr())
	sig, stop := cli.StopSignals()
	defer stop()
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Stop(ctx)
}
