package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/herdnet/herd/node"
)

// reloadSignal delivers SIGHUP, which makes up and serve reopen their log
// files and re-read their config, until the returned func is called.
func reloadSignal() (<-chan os.Signal, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// nodeLogs are the loggers of the nodes running here (each with its node's
// name) and, with --log-dir, their files.
type nodeLogs struct {
	nodes []*slog.Logger
	files []*lumberjack.Logger
}

// reopen closes every log file and opens it again at its path: a file
// that was deleted, or moved away by a rotation outside the node, is
// created anew rather than written on unseen.
func (l *nodeLogs) reopen() error {
	var err error
	for _, fl := range l.files {
		_ = fl.Close() // the next write opens it again
		if _, werr := fl.Write(nil); werr != nil {
			err = errors.Join(err, fmt.Errorf("log file %s: %w", fl.Filename, werr))
		}
	}
	return err
}

func (l *nodeLogs) close() {
	for _, fl := range l.files {
		_ = fl.Close()
	}
}

// each logs msg in every node's log.
func (l *nodeLogs) each(level slog.Level, msg string, args ...any) {
	for _, lg := range l.nodes {
		lg.Log(context.Background(), level, msg, args...)
	}
}

// waitReloading waits for a stop signal and returns it, or for a node's
// reactor to fail and returns why. On each SIGHUP meanwhile it reopens the
// log files, then re-reads the config file (with the command line's
// overrides) and applies it to the running nodes. A file that does not
// load or validate leaves the running config as it was; the refusal and
// its reason go to stderr and, as JSON, to every node's log.
func waitReloading(f *nodeFlags, h *node.Herd, logs *nodeLogs, sig <-chan os.Signal, stdout, stderr io.Writer) (os.Signal, error) {
	refuse := func(reason string) {
		fmt.Fprintf(stderr, "herd: SIGHUP: %s\n", reason)
		logs.each(slog.LevelError, "config reload refused", "config", f.config, "reason", reason)
	}
	failed := h.Failed()
	for {
		select {
		case got := <-sig:
			return got, nil
		case err := <-failed:
			return nil, err
		case <-f.hup:
			if err := logs.reopen(); err != nil {
				fmt.Fprintf(stderr, "herd: SIGHUP: reopening the logs: %v\n", err)
			}
			if f.config == "" {
				refuse("no --config file to reload (running the embedded default herd)")
				continue
			}
			cfg, err := f.load()
			if err != nil {
				refuse(fmt.Sprintf("keeping the old config: %v", err))
				continue
			}
			notes, err := h.Reload(cfg)
			if err != nil {
				refuse(err.Error())
				continue
			}
			fmt.Fprintf(stdout, "herd: SIGHUP: reloaded %s\n", f.config)
			for _, n := range notes {
				fmt.Fprintf(stdout, "  %s\n", n)
			}
			logs.each(slog.LevelInfo, "config reloaded", "config", f.config, "notes", notes)
		}
	}
}
