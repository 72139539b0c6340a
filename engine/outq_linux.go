package engine

import "golang.org/x/sys/unix"

// sendQueued is how many bytes the kernel still holds in fd's send queue
// (sent or not, not yet acknowledged by the client).
func sendQueued(fd int) int64 {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		return 0
	}
	return int64(n)
}
