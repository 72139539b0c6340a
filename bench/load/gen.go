package load

import (
	"strconv"
)

// reqKind is what a generated request is, and so what its reply must be.
type reqKind uint8

const (
	reqIAMAT   reqKind = iota // herd IAMAT: reply is the matching AT line
	reqWHATSAT                // herd WHATSAT: AT line, JSON lines, empty line
	reqInvalid                // herd invalid line: "? " + the line
	reqEcho                   // echo: the line itself
	reqRedis                  // redis GEOADD: ":1" or ":0"
)

// DefaultIDsPerConn is how many distinct client ids each connection cycles
// through unless Options.IDsPerConn says otherwise: the cold workload (a
// million clients over 1,000 connections; nearly every lookup misses the
// CPU caches). 1 is the hot workload (each connection reports for one
// client).
const DefaultIDsPerConn = 1000

// gen produces one connection's request sequence. It is deterministic in
// (conn, seq), so the writer and the reader of a connection each run their
// own copy and agree on every request without sharing it.
type gen struct {
	mix     Mix
	prefix  string // client id prefix
	conn    int
	seq     uint64
	baseNs  int64 // client time of seq 0, Unix nanoseconds; seq n is baseNs + n µs
	whatsat float64
	invalid float64
	radius  string
	bound   int
	lastID  int64 // client id suffix of the latest IAMAT, -1 before the first
	ids     uint64
}

func newGen(opt *Options, conn int, baseNs int64) gen {
	return gen{
		mix: opt.Mix, prefix: opt.ClientPrefix, conn: conn, baseNs: baseNs,
		whatsat: opt.WhatsatFrac, invalid: opt.InvalidFrac,
		radius: opt.Radius, bound: opt.Bound, lastID: -1, ids: uint64(opt.IDsPerConn),
	}
}

// mix64 is splitmix64's finalizer: a good cheap hash of a 64-bit value.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// next appends the next request, terminator included, to dst and says
// what kind it is.
func (g *gen) next(dst []byte) ([]byte, reqKind) {
	seq := g.seq
	g.seq++
	h := mix64(uint64(g.conn)<<40 ^ seq)
	id := int64(seq % g.ids)
	clientTime := g.baseNs + int64(seq)*1000
	switch g.mix {
	case MixRedis:
		dst = append(dst, "GEOADD herd "...)
		dst = appendMicroDeg(dst, lonMicro(h), false)
		dst = append(dst, ' ')
		dst = appendMicroDeg(dst, latMicro(h), false)
		dst = append(dst, ' ')
		dst = g.appendID(dst, id)
		return append(dst, '\r', '\n'), reqRedis
	case MixEcho:
		return g.appendIAMAT(dst, h, id, clientTime), reqEcho
	}
	u := float64(mix64(h)>>11) / (1 << 53)
	switch {
	case u < g.invalid:
		return g.appendInvalid(dst, seq, id, clientTime), reqInvalid
	case u < g.invalid+g.whatsat && g.lastID >= 0:
		dst = append(dst, "WHATSAT "...)
		dst = g.appendID(dst, g.lastID)
		dst = append(dst, ' ')
		dst = append(dst, g.radius...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(g.bound), 10)
		return append(dst, '\n'), reqWHATSAT
	}
	g.lastID = id
	return g.appendIAMAT(dst, h, id, clientTime), reqIAMAT
}

func (g *gen) appendID(dst []byte, id int64) []byte {
	dst = append(dst, g.prefix...)
	dst = strconv.AppendInt(dst, int64(g.conn), 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, id, 10)
}

func (g *gen) appendIAMAT(dst []byte, h uint64, id, clientTime int64) []byte {
	dst = append(dst, "IAMAT "...)
	dst = g.appendID(dst, id)
	dst = append(dst, ' ')
	dst = appendMicroDeg(dst, latMicro(h), true)
	dst = appendMicroDeg(dst, lonMicro(h), true)
	dst = append(dst, ' ')
	dst = appendStamp(dst, clientTime)
	return append(dst, '\n')
}

// appendInvalid appends one of three lines a herd node must answer with
// "? line": an unknown command, an IAMAT whose location lacks its signs,
// and a WHATSAT whose radius is over 50 km.
func (g *gen) appendInvalid(dst []byte, seq uint64, id, clientTime int64) []byte {
	switch seq % 3 {
	case 0:
		dst = append(dst, "HELLO "...)
		dst = g.appendID(dst, id)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, seq, 10)
	case 1:
		dst = append(dst, "IAMAT "...)
		dst = g.appendID(dst, id)
		dst = append(dst, " 34.068930-118.445127 "...)
		dst = appendStamp(dst, clientTime)
	default:
		dst = append(dst, "WHATSAT "...)
		dst = g.appendID(dst, id)
		dst = append(dst, " 51 5"...)
	}
	return append(dst, '\n')
}

// latMicro and lonMicro derive a location from a hash, in millionths of a
// degree; latitude stays within ±85 so that Redis accepts it too.
func latMicro(h uint64) int64 { return int64(h%170_000_001) - 85_000_000 }
func lonMicro(h uint64) int64 { return int64((h>>32)%360_000_001) - 180_000_000 }

// appendMicroDeg appends v millionths as a decimal with six fraction
// digits, with a '+' for non-negative values when plus is set.
func appendMicroDeg(dst []byte, v int64, plus bool) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	} else if plus {
		dst = append(dst, '+')
	}
	dst = strconv.AppendInt(dst, v/1e6, 10)
	dst = append(dst, '.')
	return appendFrac(dst, v%1e6, 6)
}

// appendStamp appends Unix nanoseconds as "sec.nnnnnnnnn".
func appendStamp(dst []byte, ns int64) []byte {
	dst = strconv.AppendInt(dst, ns/1e9, 10)
	dst = append(dst, '.')
	return appendFrac(dst, ns%1e9, 9)
}

// digitPairs holds "00" to "99", for writing two digits per division.
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendFrac appends v (0 <= v < 10^digits, digits <= 9) as exactly
// digits decimal digits, zero-padded.
func appendFrac(dst []byte, v int64, digits int) []byte {
	var b [9]byte
	u, i := uint64(v), digits
	for ; i >= 2; i -= 2 {
		r := u % 100
		u /= 100
		b[i-2], b[i-1] = digitPairs[2*r], digitPairs[2*r+1]
	}
	if i == 1 {
		b[0] = byte('0' + u%10)
	}
	return append(dst, b[:digits]...)
}
