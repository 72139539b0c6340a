// Package cli holds what the two binaries share on the command line: the
// node commands (up and serve) with their flags, flag parsing that accepts
// flags after positional arguments, the exit-code convention (0 success, 1
// a runtime failure, 2 a usage or configuration error) and signal handling.
// cmd/herd offers the gnet engine only; cmd/herd-bench passes the
// goroutine-per-connection baseline as a second engine.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// ErrFlagReported stands for a flag error the flag package has printed.
var ErrFlagReported = errors.New("bad flag")

// ExitError carries an exit code up to main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// UsageErr is a usage error (exit code 2).
func UsageErr(format string, a ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, a...)}
}

// ParseArgs parses flags that may come before or after positional
// arguments ("herd serve Alford --config f" and "herd serve --config f
// Alford") and returns the positional ones.
// An argument that starts with "-" and a digit or "." is a negative
// number, not a flag: a southern or western location ("-33.86+151.21").
func ParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		for len(args) > 0 && negativeNumber(args[0]) {
			pos, args = append(pos, args[0]), args[1:]
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &ExitError{Code: 2, Err: ErrFlagReported}
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

func negativeNumber(s string) bool {
	return len(s) > 1 && s[0] == '-' && (s[1] == '.' || s[1] >= '0' && s[1] <= '9')
}

// NewFlagSet returns a flag set that prints errors and usage to stderr.
func NewFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// JoinNames joins names with commas, "-" for none.
func JoinNames(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}

// StopSignals delivers SIGINT and SIGTERM, the signals that stop a herd
// process gracefully, until the returned func is called.
func StopSignals() (<-chan os.Signal, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	return sig, func() { signal.Stop(sig) }
}

// raiseFDLimit raises the process's open-file limit (RLIMIT_NOFILE) to its
// hard limit, so that a node can hold as many connections as the system
// lets it, and returns the soft limit before and after. (Go's runtime
// already does this at start on Linux; doing it here makes it explicit, and
// lets the caller report it.)
func raiseFDLimit() (before, after uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0
	}
	before = rl.Cur
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
			return before, before
		}
	}
	return before, rl.Cur
}

// Code prints err (if any) to stderr prefixed with prog and returns the exit
// code it stands for: 0 for none or a help request, 2 for a usage error, the
// code of an *ExitError, 1 otherwise.
func Code(prog string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, ErrFlagReported) {
		return 2 // the flag package already printed the problem and the usage
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	return code
}
