package codec

// Number grammars of docs/PROTOCOL.md (IAMAT, WHATSAT), checked digit by
// digit so that range checks are exact (no float rounding at ±90, ±180 or
// 50 km) and nothing allocates.

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// decimal is a non-negative number "D+" or "D+.D+" split into its parts.
type decimal struct {
	intVal   uint64 // integer part; only meaningful when intSig <= 18
	intSig   int    // significant digits of the integer part (leading zeros stripped)
	frac     []byte // fraction digits, possibly empty
	fracZero bool   // the fraction is all zeros (or absent)
}

// scanDecimal reads "D+" or "D+.D+" (the fraction optional only when
// fracOptional) from the start of b and returns it with the bytes used.
func scanDecimal(b []byte, fracOptional bool) (d decimal, n int, ok bool) {
	i := 0
	for i < len(b) && isDigit(b[i]) {
		if d.intSig > 0 || b[i] != '0' {
			d.intSig++
			if d.intSig <= 18 {
				d.intVal = d.intVal*10 + uint64(b[i]-'0')
			}
		}
		i++
	}
	if i == 0 {
		return d, 0, false
	}
	d.fracZero = true
	if i == len(b) || b[i] != '.' {
		return d, i, fracOptional
	}
	i++
	start := i
	for i < len(b) && isDigit(b[i]) {
		if b[i] != '0' {
			d.fracZero = false
		}
		i++
	}
	if i == start {
		return d, 0, false
	}
	d.frac = b[start:i]
	return d, i, true
}

// float converts d to a float64, good to about 15 significant digits.
func (d decimal) float() float64 {
	v := float64(d.intVal)
	var f uint64
	k := 0
	for _, c := range d.frac {
		if k == 15 {
			break
		}
		f = f*10 + uint64(c-'0')
		k++
	}
	return v + float64(f)/pow10[k]
}

// within reports whether d <= max (max a small whole number).
func (d decimal) within(max uint64) bool {
	if d.intSig > 18 || d.intVal > max {
		return false
	}
	return d.intVal < max || d.fracZero
}

// parseLocation checks ISO 6709 "[+-]D+.D+[+-]D+.D+" with |lat| <= 90 and
// |lon| <= 180 (leading zeros allowed: "+034.5") and, when values is set,
// also converts both coordinates to float64. The check alone is what the
// request path needs; the values are computed only for WHATSAT.
func parseLocation(b []byte, values bool) (lat, lon float64, ok bool) {
	lat, n, ok := parseCoord(b, 90, values)
	if !ok {
		return 0, 0, false
	}
	lon, m, ok := parseCoord(b[n:], 180, values)
	if !ok || n+m != len(b) {
		return 0, 0, false
	}
	return lat, lon, true
}

func parseCoord(b []byte, max uint64, value bool) (v float64, n int, ok bool) {
	if len(b) < 4 || (b[0] != '+' && b[0] != '-') {
		return 0, 0, false
	}
	d, n, ok := scanDecimal(b[1:], false)
	if !ok || !d.within(max) {
		return 0, 0, false
	}
	if value {
		v = d.float()
		if b[0] == '-' {
			v = -v
		}
	}
	return v, n + 1, true
}

// Stamp is a point in POSIX time with nanosecond resolution: the client's
// time of an IAMAT, or a node's receive time.
type Stamp struct {
	Sec  int64 // 0 <= Sec < 1e18
	Nsec int32 // 0 <= Nsec < 1e9
}

// Compare returns -1, 0 or +1 as s is before, equal to or after t.
func (s Stamp) Compare(t Stamp) int {
	switch {
	case s.Sec < t.Sec:
		return -1
	case s.Sec > t.Sec:
		return 1
	case s.Nsec < t.Nsec:
		return -1
	case s.Nsec > t.Nsec:
		return 1
	}
	return 0
}

// ParseStamp parses a client time: "D+" or "D+.D+", no sign, no exponent.
// Digits past the ninth decimal are kept verbatim in the line but do not
// count when times are compared. Times of 10^18 seconds or more (about 31
// billion years) are rejected so that skews never overflow.
func ParseStamp(b []byte) (Stamp, bool) {
	if st, ok := fastStamp(b); ok {
		return st, true
	}
	d, n, ok := scanDecimal(b, true)
	if !ok || n != len(b) || d.intSig > 18 {
		return Stamp{}, false
	}
	var ns int32
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(d.frac) {
			ns += int32(d.frac[i] - '0')
		}
	}
	return Stamp{Sec: int64(d.intVal), Nsec: ns}, true
}

// parseRadius parses WHATSAT's radius: "D+" or "D+.D+" kilometres,
// 0 < r <= 50. No sign is accepted.
func parseRadius(b []byte) (float64, bool) {
	d, n, ok := scanDecimal(b, true)
	if !ok || n != len(b) || !d.within(MaxRadiusKm) {
		return 0, false
	}
	// float keeps 15 fraction digits, leading zeros included: a radius
	// under 1e-15 km comes out as 0 and is refused like 0 itself.
	r := d.float()
	return r, r > 0
}

// parseBound parses WHATSAT's bound: a whole number 1..20 ("05" is 5).
func parseBound(b []byte) (int, bool) {
	d, n, ok := scanDecimal(b, true)
	if !ok || n != len(b) || d.frac != nil || d.intVal < 1 || !d.within(MaxBound) {
		return 0, false
	}
	return int(d.intVal), true
}

// validSkew checks an AT line's skew: "[+-]D+.D+".
func validSkew(b []byte) bool {
	if len(b) < 4 || (b[0] != '+' && b[0] != '-') {
		return false
	}
	_, n, ok := scanDecimal(b[1:], false)
	return ok && n+1 == len(b)
}
