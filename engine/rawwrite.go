package engine

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeNow writes as much of b to the non-blocking socket fd as it takes
// at once, and returns how many bytes that was: 0 when the socket is full
// or on any error, which the caller leaves to gnet (it buffers what is
// left, or closes the connection on the error it meets again).
//
// It is a raw system call, one that does not tell Go's scheduler it is in
// the kernel: a write to a non-blocking socket never waits, so there is no
// point in letting the runtime hand the event loop's P to another thread
// meanwhile, and the usual entry and exit (and, when the write outlasts a
// sysmon tick, the hand-off and the thread wake-ups it brings) cost more
// than the write. gnet's own write (conn.Write) makes the ordinary call.
// When the socket is full, gnet's Write tries once more before it buffers
// the rest (it has no call that only buffers): one extra system call, and
// only for a client that reads slower than it asks.
func writeNow(fd int, b []byte) int {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return 0
	}
	return int(n)
}
