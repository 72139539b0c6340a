//go:build race

package herd

import (
	"encoding/binary"
	"sync/atomic"
)

// copyIn copies line into the words w (len(w) == (len(line)+7)/8), the
// last one zero-padded, a word at a time with atomic stores, so that the
// race detector checks the seqlock protocol rather than flagging it.
func copyIn(w []uint64, line []byte) {
	k := 0
	for ; len(line) >= 8; k++ {
		atomic.StoreUint64(&w[k], binary.LittleEndian.Uint64(line))
		line = line[8:]
	}
	if len(line) > 0 {
		var last [8]byte
		copy(last[:], line)
		atomic.StoreUint64(&w[k], binary.LittleEndian.Uint64(last[:]))
	}
}

// copyOut appends the bytes of the words w to dst with atomic loads.
func copyOut(dst []byte, w []uint64) []byte {
	for k := range w {
		dst = binary.LittleEndian.AppendUint64(dst, atomic.LoadUint64(&w[k]))
	}
	return dst
}
