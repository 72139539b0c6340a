// Package runner runs Herd's benchmark matrix and writes BENCHMARKS.md.
//
// Every server under test runs as its own process (so that its CPU time and
// RSS can be read from /proc/PID): the gnet node and the goroutine-per-
// connection baseline (`herd-bench serve --engine`), the Twisted node of the study,
// Redis doing GEOADD, and a gnet line-echo server as the ceiling. The load
// generator (`herd-bench load --json`) is another process. Engines alternate within
// each cell and every cell is repeated, so drift on a shared machine shows up
// as spread instead of as a bias against whichever engine ran last.
package runner
