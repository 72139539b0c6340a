//go:build !race

package herd

import "unsafe"

// copyIn copies line into the words w (len(w) == (len(line)+7)/8), the
// last one zero-padded. The writer holds the record's seqlock.
func copyIn(w []uint64, line []byte) {
	if len(w) == 0 {
		return
	}
	w[len(w)-1] = 0
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8), line)
}

// copyOut appends the bytes of the words w to dst. The reader checks the
// record's sequence afterwards and drops the copy if it moved.
func copyOut(dst []byte, w []uint64) []byte {
	if len(w) == 0 {
		return dst
	}
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)...)
}
