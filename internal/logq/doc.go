// Package logq moves log records off the event loops and peer goroutines:
// callers enqueue small events without blocking (an event that finds the
// queue full is dropped and counted, and the count is logged with the next
// record), and one goroutine per queue hands them to a slog.Logger, which
// may block on disk. Both I/O models and the peer links use it; it imports
// nothing but the standard library.
package logq
