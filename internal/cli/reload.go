package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/herdnet/herd/node"
)

// reloadSignal delivers SIGHUP, which makes up and serve re-read their
// config, until the returned func is called.
func reloadSignal() (<-chan os.Signal, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// waitReloading waits for a stop signal and returns it, or for a node's
// reactor to fail and returns why; on each SIGHUP
// meanwhile it re-reads the config file (with the command line's
// overrides) and applies it to the running nodes. A file that does not load
// or validate leaves the running config as it was, and says why.
func waitReloading(f *nodeFlags, h *node.Herd, sig <-chan os.Signal, stdout, stderr io.Writer) (os.Signal, error) {
	failed := h.Failed()
	for {
		select {
		case got := <-sig:
			return got, nil
		case err := <-failed:
			return nil, err
		case <-f.hup:
			if f.config == "" {
				fmt.Fprintln(stderr, "herd: SIGHUP: no --config file to reload (running the embedded default herd)")
				continue
			}
			cfg, err := f.load()
			if err != nil {
				fmt.Fprintf(stderr, "herd: SIGHUP: keeping the old config: %v\n", err)
				continue
			}
			notes, err := h.Reload(cfg)
			if err != nil {
				fmt.Fprintf(stderr, "herd: SIGHUP: %v\n", err)
				continue
			}
			fmt.Fprintf(stdout, "herd: SIGHUP: reloaded %s\n", f.config)
			for _, n := range notes {
				fmt.Fprintf(stdout, "  %s\n", n)
			}
		}
	}
}
