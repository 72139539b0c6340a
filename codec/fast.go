package codec

import (
	"encoding/binary"
	"math/bits"
)

// parseIAMATFast parses the shape nearly every IAMAT has, in one pass and
// a word at a time where it can: "IAMAT id [+-]D.D[+-]D.D D.D", single
// spaces, nothing around, an id without control bytes, coordinates with at
// most three integer digits strictly inside their range, a time of at most
// 18 integer digits. It reports false for anything else, having written
// nothing, and Parse then takes the byte-by-byte path, which decides every
// unusual line (and every error). For a line it accepts it sets exactly
// what the general path would (FuzzParseFast checks that).
func parseIAMATFast(line []byte, cmd *Command) bool {
	if len(line) < 6 || string(line[:6]) != "IAMAT " {
		return false
	}
	i := idEnd(line, 6)
	if i == 6 || i >= len(line) || line[i] != ' ' {
		return false
	}
	id := line[6:i:i]
	locStart := i + 1
	j, ok := fastCoord(line, locStart, 90)
	if !ok {
		return false
	}
	j, ok = fastCoord(line, j, 180)
	if !ok || j >= len(line) || line[j] != ' ' {
		return false
	}
	loc := line[locStart:j:j]
	t := line[j+1:]
	st, ok := fastStamp(t)
	if !ok {
		return false
	}
	cmd.Kind = KindIAMAT
	cmd.ClientID, cmd.Location = id, loc
	cmd.Time, cmd.Stamp = t, st
	return true
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// idEnd returns the index of the first byte at or after i that is below
// 0x21 (white space or a control byte), or len(line), eight bytes at a time.
func idEnd(line []byte, i int) int {
	for ; i+8 <= len(line); i += 8 {
		w := binary.LittleEndian.Uint64(line[i:])
		// The lowest byte below 0x21 sets the lowest flagged high bit
		// (the classic "has less than" test; bytes >= 0x80 never flag).
		if m := (w - ones*0x21) & ^w & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(line); i++ {
		if line[i] < 0x21 {
			return i
		}
	}
	return i
}

// fastCoord reads "[+-]D{1,3}.D+" at line[i:] with a value strictly below
// max and returns the index after it.
func fastCoord(line []byte, i int, max uint32) (int, bool) {
	if i >= len(line) || (line[i] != '+' && line[i] != '-') {
		return 0, false
	}
	i++
	var v uint32
	k := i
	for k < len(line) && k-i < 4 && isDigit(line[k]) {
		v = v*10 + uint32(line[k]-'0')
		k++
	}
	if k == i || k-i > 3 || v >= max || k >= len(line) || line[k] != '.' {
		return 0, false
	}
	k++
	f := k
	for k < len(line) && isDigit(line[k]) {
		k++
	}
	if k == f {
		return 0, false
	}
	return k, true
}

// fastStamp parses "D+" or "D+.D+" filling all of t, with at most 18
// integer digits (so at most 18 significant ones, as ParseStamp requires).
func fastStamp(t []byte) (Stamp, bool) {
	var sec uint64
	i := 0
	if len(t) >= 8 {
		if v, ok := eightDigits(binary.LittleEndian.Uint64(t)); ok {
			sec, i = v, 8
		}
	}
	for i < len(t) && isDigit(t[i]) {
		sec = sec*10 + uint64(t[i]-'0')
		i++
	}
	if i == 0 || i > 18 {
		return Stamp{}, false
	}
	if i == len(t) {
		return Stamp{Sec: int64(sec)}, true
	}
	if t[i] != '.' || i+1 == len(t) {
		return Stamp{}, false
	}
	frac := t[i+1:]
	var ns uint64
	n := 0
	if len(frac) >= 8 {
		if v, ok := eightDigits(binary.LittleEndian.Uint64(frac)); ok {
			ns, n = v, 8
		}
	}
	for ; n < len(frac) && n < 9; n++ {
		if !isDigit(frac[n]) {
			return Stamp{}, false
		}
		ns = ns*10 + uint64(frac[n]-'0')
	}
	for k := n; k < len(frac); k++ { // digits past the ninth: checked, not counted
		if !isDigit(frac[k]) {
			return Stamp{}, false
		}
	}
	for ; n < 9; n++ {
		ns *= 10
	}
	return Stamp{Sec: int64(sec), Nsec: int32(ns)}, true
}

// eightDigits converts eight ASCII digits held little-endian in w (the
// first digit in the low byte), or reports that they are not all digits.
func eightDigits(w uint64) (uint64, bool) {
	// Every byte 0x30..0x39: the high nibble is 3, and adding 6 keeps it 3.
	if w&0xF0F0F0F0F0F0F0F0 != 0x3030303030303030 || (w+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 != 0x3030303030303030 {
		return 0, false
	}
	w -= 0x3030303030303030
	w = (w * 10) + (w >> 8) // pairs
	w = (((w & 0x000000FF000000FF) * (100 + (1000000 << 32))) +
		(((w >> 16) & 0x000000FF000000FF) * (1 + (10000 << 32)))) >> 32 // all eight
	return w, true
}
