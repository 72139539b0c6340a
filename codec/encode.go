package codec

import "strconv"

// appendSkew appends received minus sent, in integer nanoseconds, written
// with its sign and exactly nine decimals: "+0.263873386", "-12.000000001".
// A zero skew is "+0.000000000".
func appendSkew(dst []byte, received, sent Stamp) []byte {
	a, b := received, sent
	sign := byte('+')
	if a.Compare(b) < 0 {
		a, b, sign = b, a, '-'
	}
	sec, nsec := a.Sec-b.Sec, a.Nsec-b.Nsec
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	dst = append(dst, sign)
	dst = strconv.AppendInt(dst, sec, 10)
	dst = append(dst, '.')
	var frac [9]byte
	for i := 8; i >= 0; i-- {
		frac[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	return append(dst, frac[:]...)
}

// AppendAT appends the AT line (without "\n") that origin sends for an IAMAT
// it received at time received: "AT origin skew client location time", the
// last three fields copied from the IAMAT verbatim.
func AppendAT(dst []byte, origin string, received Stamp, iamat *Command) []byte {
	dst = append(dst, "AT "...)
	dst = append(dst, origin...)
	dst = append(dst, ' ')
	dst = appendSkew(dst, received, iamat.Stamp)
	return appendTail(dst, iamat)
}

// AppendUpdate appends the canonical form (single spaces, without "\n") of
// a parsed AT command, as a node stores and forwards it.
func AppendUpdate(dst []byte, at *Command) []byte {
	dst = append(dst, "AT "...)
	dst = append(dst, at.Origin...)
	dst = append(dst, ' ')
	dst = append(dst, at.Skew...)
	return appendTail(dst, at)
}

func appendTail(dst []byte, c *Command) []byte {
	dst = append(dst, ' ')
	dst = append(dst, c.ClientID...)
	dst = append(dst, ' ')
	dst = append(dst, c.Location...)
	dst = append(dst, ' ')
	return append(dst, c.Time...)
}
