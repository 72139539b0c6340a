package codec_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/herdnet/herd/codec"
)

// parseCase is one line and what Parse must make of it. For an invalid line
// only err is set; for a valid one every field the Kind uses is checked.
type parseCase struct {
	name string
	line string
	err  error

	kind     codec.Kind
	client   string
	loc      string
	time     string
	lat, lon float64
	stamp    codec.Stamp
	origin   string
	skew     string
	radius   float64
	bound    int
}

// The examples of docs/PROTOCOL.md (IAMAT, WHATSAT, The AT line).
const (
	protoIAMAT   = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"
	protoWHATSAT = "WHATSAT kiwi.cs.ucla.edu 10 5"
	protoAT      = "AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"
)

// protoStamp is the client time of the docs/PROTOCOL.md examples.
var protoStamp = codec.Stamp{Sec: 1479413884, Nsec: 392014450}

// iamat, whatsat, at and peer build the expected result of a valid line.
func iamat(name, line, client, loc, tm string, lat, lon float64, st codec.Stamp) parseCase {
	return parseCase{name: name, line: line, kind: codec.KindIAMAT,
		client: client, loc: loc, time: tm, lat: lat, lon: lon, stamp: st}
}

func whatsat(name, line, client string, radius float64, bound int) parseCase {
	return parseCase{name: name, line: line, kind: codec.KindWHATSAT,
		client: client, radius: radius, bound: bound}
}

func at(name, line, origin, skew, client, loc, tm string, lat, lon float64, st codec.Stamp) parseCase {
	return parseCase{name: name, line: line, kind: codec.KindAT, origin: origin, skew: skew,
		client: client, loc: loc, time: tm, lat: lat, lon: lon, stamp: st}
}

func bad(name, line string, err error) parseCase {
	return parseCase{name: name, line: line, err: err}
}

// simple builds "IAMAT kiwi <loc> <tm>" for the location and time cases.
func simple(loc, tm string) string { return "IAMAT kiwi " + loc + " " + tm }

func ws(radius, bound string) string { return "WHATSAT kiwi " + radius + " " + bound }

var (
	one  = codec.Stamp{Sec: 1}
	kiwi = "kiwi"
)

var parseCases = []parseCase{
	// docs/PROTOCOL.md, valid.
	iamat("proto/iamat", protoIAMAT, "kiwi.cs.ucla.edu", "+34.068930-118.445127",
		"1479413884.392014450", 34.06893, -118.445127, protoStamp),
	iamat("proto/iamat-unpadded", "IAMAT kiwi.cs.ucla.edu +34.06893-118.445127 1479413884.392014450",
		"kiwi.cs.ucla.edu", "+34.06893-118.445127", "1479413884.392014450", 34.06893, -118.445127, protoStamp),
	whatsat("proto/whatsat", protoWHATSAT, "kiwi.cs.ucla.edu", 10, 5),
	at("proto/at", protoAT, "Alford", "+0.263873386", "kiwi.cs.ucla.edu", "+34.068930-118.445127",
		"1479413884.392014450", 34.06893, -118.445127, protoStamp),
	// docs/PROTOCOL.md, Invalid input.
	bad("proto/lll", "LLL", codec.ErrCommand),
	bad("proto/unsigned-lat", "IAMAT kiwi 34.068930-118.445127 1.0", codec.ErrLocation),
	bad("proto/radius-51", "WHATSAT kiwi 51 5", codec.ErrRadius),
	// WHATSAT never-seen-client is a herd decision: the codec accepts it.
	whatsat("proto/never-seen", "WHATSAT never-seen-client 10 5", "never-seen-client", 10, 5),

	// Odd spacing.
	iamat("space/tabs", "IAMAT\tkiwi\t+1.0-2.0\t3", kiwi, "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("space/many", "IAMAT    kiwi  \t  +1.0-2.0     3", kiwi, "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("space/leading-trailing", " \t\f\vIAMAT kiwi +1.0-2.0 3 \t\f\v\r", kiwi, "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("space/cr-inside", "IAMAT\rkiwi\r+1.0-2.0\r3", kiwi, "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("space/ff-vt", "IAMAT\fkiwi\v+1.0-2.0\f\v3", kiwi, "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("space/newline-inside", "IAMAT\nkiwi\n+1.0-2.0\n3", kiwi, "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	whatsat("space/whatsat", "\t WHATSAT \f kiwi \v 10 \r 5 \t", kiwi, 10, 5),
	at("space/at", "  AT\tAlford  +0.263873386\f kiwi.cs.ucla.edu\v+34.068930-118.445127 \r 1479413884.392014450\t",
		"Alford", "+0.263873386", "kiwi.cs.ucla.edu", "+34.068930-118.445127", "1479413884.392014450",
		34.06893, -118.445127, protoStamp),

	// Client ids are opaque non-white-space bytes.
	iamat("client/utf8", "IAMAT étudiant +1.0-2.0 3", "étudiant", "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("client/emoji", "IAMAT 😂 +1.0-2.0 3", "😂", "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("client/nul-ff", "IAMAT a\x00\xffb +1.0-2.0 3", "a\x00\xffb", "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("client/nbsp-nel", "IAMAT \xc2\xa0\xc2\x85\xa0\x85 +1.0-2.0 3", "\xc2\xa0\xc2\x85\xa0\x85", "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	iamat("client/command-name", "IAMAT IAMAT +1.0-2.0 3", "IAMAT", "+1.0-2.0", "3", 1, -2, codec.Stamp{Sec: 3}),
	whatsat("client/utf8-whatsat", "WHATSAT 😂 10 5", "😂", 10, 5),

	// Blank lines and command names.
	bad("blank/empty", "", codec.ErrEmpty),
	bad("blank/white", " \t\f\v\r\n", codec.ErrEmpty),
	bad("command/lowercase-iamat", "iamat kiwi +1.0-2.0 3", codec.ErrCommand),
	bad("command/lowercase-whatsat", "whatsat kiwi 10 5", codec.ErrCommand),
	bad("command/lowercase-at", "at Alford +0.1 kiwi +1.0-2.0 3", codec.ErrCommand),
	bad("command/lowercase-peer", "peer Alford", codec.ErrCommand),
	bad("command/suffix", "IAMATX kiwi +1.0-2.0 3", codec.ErrCommand),
	bad("command/prefix", "IAMA kiwi +1.0-2.0 3", codec.ErrCommand),
	bad("command/nul", "IAMAT\x00 kiwi +1.0-2.0 3", codec.ErrCommand),
	bad("command/question", "? LLL", codec.ErrCommand),

	// Arity, both ways.
	bad("arity/iamat-1", "IAMAT", codec.ErrArity),
	bad("arity/iamat-3", "IAMAT kiwi +1.0-2.0", codec.ErrArity),
	bad("arity/iamat-5", "IAMAT kiwi +1.0-2.0 3 extra", codec.ErrArity),
	bad("arity/iamat-9", "IAMAT a b c d e f g h", codec.ErrArity),
	bad("arity/whatsat-3", "WHATSAT kiwi 10", codec.ErrArity),
	bad("arity/whatsat-5", "WHATSAT kiwi 10 5 5", codec.ErrArity),
	bad("arity/at-5", "AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127", codec.ErrArity),
	bad("arity/at-7", protoAT+" x", codec.ErrArity),
	bad("arity/peer-1", "PEER", codec.ErrArity),
	bad("arity/peer-3", "PEER Alford Ball", codec.ErrArity),
	bad("peer/nonce-short", "PEER Alford 0123456789abcdef", codec.ErrArity),
	bad("peer/nonce-upper", "PEER Alford 0123456789ABCDEF0123456789abcdef", codec.ErrArity),
	bad("arity/peer-4", "PEER Alford 0123456789abcdef0123456789abcdef x", codec.ErrArity),

	// Latitude and longitude.
	iamat("loc/lat+90", simple("+90.0+0.0", "1"), kiwi, "+90.0+0.0", "1", 90, 0, one),
	iamat("loc/lat-90", simple("-90.0-0.0", "1"), kiwi, "-90.0-0.0", "1", -90, 0, one),
	iamat("loc/lat+90-zeros", simple("+90.000000000000000000000-1.5", "1"), kiwi, "+90.000000000000000000000-1.5", "1", 90, -1.5, one),
	bad("loc/lat+90.000001", simple("+90.000001+0.0", "1"), codec.ErrLocation),
	bad("loc/lat-90.000001", simple("-90.000001+0.0", "1"), codec.ErrLocation),
	bad("loc/lat+90.0000000000000000001", simple("+90.0000000000000000001+0.0", "1"), codec.ErrLocation),
	bad("loc/lat+91", simple("+91.0+0.0", "1"), codec.ErrLocation),
	iamat("loc/lon+180", simple("+0.0+180.0", "1"), kiwi, "+0.0+180.0", "1", 0, 180, one),
	iamat("loc/lon-180", simple("+0.0-180.0", "1"), kiwi, "+0.0-180.0", "1", 0, -180, one),
	iamat("loc/corner", simple("-90.0-180.0", "1"), kiwi, "-90.0-180.0", "1", -90, -180, one),
	bad("loc/lon+180.000001", simple("+0.0+180.000001", "1"), codec.ErrLocation),
	bad("loc/lon-180.000001", simple("+0.0-180.000001", "1"), codec.ErrLocation),
	bad("loc/lon+181", simple("+0.0+181.0", "1"), codec.ErrLocation),
	bad("loc/lon-huge", simple("+0.0-99999999999999999999999.0", "1"), codec.ErrLocation),
	iamat("loc/leading-zeros", simple("+034.5-0118.25", "1"), kiwi, "+034.5-0118.25", "1", 34.5, -118.25, one),
	iamat("loc/many-leading-zeros", simple("-00000000000000000000089.5+00000000000000000000179.125", "1"),
		kiwi, "-00000000000000000000089.5+00000000000000000000179.125", "1", -89.5, 179.125, one),
	iamat("loc/long-fraction", simple("+12.345678901234567890123-0.000000001", "1"),
		kiwi, "+12.345678901234567890123-0.000000001", "1", 12.345678901234567, -0.000000001, one),
	bad("loc/lat-no-point", simple("+34-118.445127", "1"), codec.ErrLocation),
	bad("loc/lon-no-point", simple("+34.068930-118", "1"), codec.ErrLocation),
	bad("loc/no-points", simple("+34-118", "1"), codec.ErrLocation),
	bad("loc/lon-no-sign", simple("+34.068930118.445127", "1"), codec.ErrLocation),
	bad("loc/lat-only", simple("+34.068930", "1"), codec.ErrLocation),
	bad("loc/lat-trailing-point", simple("+1.+2.0", "1"), codec.ErrLocation),
	bad("loc/lat-leading-point", simple("+.5+2.0", "1"), codec.ErrLocation),
	bad("loc/lon-trailing-point", simple("+1.0+2.", "1"), codec.ErrLocation),
	bad("loc/lon-leading-point", simple("+1.0+.5", "1"), codec.ErrLocation),
	bad("loc/double-sign", simple("++1.0+2.0", "1"), codec.ErrLocation),
	bad("loc/trailing-junk", simple("+1.0+2.0x", "1"), codec.ErrLocation),
	bad("loc/trailing-sign", simple("+1.0+2.0+", "1"), codec.ErrLocation),
	bad("loc/exponent", simple("+1e1+2.0", "1"), codec.ErrLocation),
	bad("loc/comma", simple("+1,0+2,0", "1"), codec.ErrLocation),
	bad("loc/inf", simple("+inf+2.0", "1"), codec.ErrLocation),
	bad("loc/nan", simple("+1.0+nan", "1"), codec.ErrLocation),
	bad("loc/three-coords", simple("+1.0+2.0+3.0", "1"), codec.ErrLocation),
	bad("loc/sign-only", simple("+-", "1"), codec.ErrLocation),
	bad("loc/location-before-time", simple("1.0", "+1.0+2.0"), codec.ErrLocation),

	// Time.
	iamat("time/integer", simple("+1.0+2.0", "1479413884"), kiwi, "+1.0+2.0", "1479413884", 1, 2, codec.Stamp{Sec: 1479413884}),
	iamat("time/zero", simple("+1.0+2.0", "0"), kiwi, "+1.0+2.0", "0", 1, 2, codec.Stamp{}),
	iamat("time/short-fraction", simple("+1.0+2.0", "1.5"), kiwi, "+1.0+2.0", "1.5", 1, 2, codec.Stamp{Sec: 1, Nsec: 500000000}),
	iamat("time/nanosecond", simple("+1.0+2.0", "0.000000001"), kiwi, "+1.0+2.0", "0.000000001", 1, 2, codec.Stamp{Nsec: 1}),
	iamat("time/past-nanosecond", simple("+1.0+2.0", "1.1234567899999"), kiwi, "+1.0+2.0", "1.1234567899999", 1, 2,
		codec.Stamp{Sec: 1, Nsec: 123456789}),
	iamat("time/leading-zeros", simple("+1.0+2.0", "0001.000000001"), kiwi, "+1.0+2.0", "0001.000000001", 1, 2,
		codec.Stamp{Sec: 1, Nsec: 1}),
	iamat("time/max", simple("+1.0+2.0", "999999999999999999.999999999"), kiwi, "+1.0+2.0", "999999999999999999.999999999",
		1, 2, codec.Stamp{Sec: 999999999999999999, Nsec: 999999999}),
	bad("time/1e18", simple("+1.0+2.0", "1000000000000000000"), codec.ErrTime),
	bad("time/1e18-fraction", simple("+1.0+2.0", "1000000000000000000.0"), codec.ErrTime),
	bad("time/huge", simple("+1.0+2.0", "99999999999999999999999999999"), codec.ErrTime),
	bad("time/exponent", simple("+1.0+2.0", "1e9"), codec.ErrTime),
	bad("time/exponent-upper", simple("+1.0+2.0", "1.5E9"), codec.ErrTime),
	bad("time/plus", simple("+1.0+2.0", "+1.0"), codec.ErrTime),
	bad("time/minus", simple("+1.0+2.0", "-1.0"), codec.ErrTime),
	bad("time/inf", simple("+1.0+2.0", "inf"), codec.ErrTime),
	bad("time/Inf", simple("+1.0+2.0", "+Inf"), codec.ErrTime),
	bad("time/nan", simple("+1.0+2.0", "nan"), codec.ErrTime),
	bad("time/NaN", simple("+1.0+2.0", "NaN"), codec.ErrTime),
	bad("time/trailing-point", simple("+1.0+2.0", "1."), codec.ErrTime),
	bad("time/leading-point", simple("+1.0+2.0", ".5"), codec.ErrTime),
	bad("time/two-points", simple("+1.0+2.0", "1.2.3"), codec.ErrTime),
	bad("time/comma", simple("+1.0+2.0", "1,5"), codec.ErrTime),
	bad("time/hex", simple("+1.0+2.0", "0x10"), codec.ErrTime),
	bad("time/underscore", simple("+1.0+2.0", "1_000"), codec.ErrTime),
	bad("time/suffix", simple("+1.0+2.0", "1.0s"), codec.ErrTime),
	bad("time/fullwidth-digit", simple("+1.0+2.0", "１"), codec.ErrTime),

	// Radius: "D+" or "D+.D+", 0 < r <= 50.
	bad("radius/0", ws("0", "5"), codec.ErrRadius),
	bad("radius/0.0", ws("0.0", "5"), codec.ErrRadius),
	bad("radius/000.000", ws("000.000", "5"), codec.ErrRadius),
	whatsat("radius/0.001", ws("0.001", "5"), kiwi, 0.001, 5),
	whatsat("radius/1", ws("1", "5"), kiwi, 1, 5),
	whatsat("radius/leading-zeros", ws("007.5", "5"), kiwi, 7.5, 5),
	whatsat("radius/50", ws("50", "5"), kiwi, 50, 5),
	whatsat("radius/50.0", ws("50.0", "5"), kiwi, 50, 5),
	whatsat("radius/50.000", ws("050.000", "5"), kiwi, 50, 5),
	whatsat("radius/49.999999", ws("49.999999", "5"), kiwi, 49.999999, 5),
	bad("radius/50.0001", ws("50.0001", "5"), codec.ErrRadius),
	bad("radius/50.000000000000000000001", ws("50.000000000000000000001", "5"), codec.ErrRadius),
	bad("radius/51", ws("51", "5"), codec.ErrRadius),
	bad("radius/huge", ws("100000000000000000000000000050", "5"), codec.ErrRadius),
	bad("radius/plus", ws("+10", "5"), codec.ErrRadius),
	bad("radius/minus", ws("-10", "5"), codec.ErrRadius),
	bad("radius/trailing-point", ws("1.", "5"), codec.ErrRadius),
	bad("radius/leading-point", ws(".5", "5"), codec.ErrRadius),
	bad("radius/exponent", ws("1e1", "5"), codec.ErrRadius),
	bad("radius/inf", ws("inf", "5"), codec.ErrRadius),
	bad("radius/nan", ws("nan", "5"), codec.ErrRadius),
	bad("radius/unit", ws("10km", "5"), codec.ErrRadius),
	bad("radius/before-bound", ws("0", "0"), codec.ErrRadius),

	// Bound: a whole number 1..20.
	bad("bound/0", ws("10", "0"), codec.ErrBound),
	bad("bound/00", ws("10", "00"), codec.ErrBound),
	whatsat("bound/1", ws("10", "1"), kiwi, 10, 1),
	whatsat("bound/20", ws("10", "20"), kiwi, 10, 20),
	whatsat("bound/05", ws("10", "05"), kiwi, 10, 5),
	whatsat("bound/020", ws("10", "0000000000000000000000020"), kiwi, 10, 20),
	bad("bound/21", ws("10", "21"), codec.ErrBound),
	bad("bound/huge", ws("10", "100000000000000000000000000001"), codec.ErrBound),
	bad("bound/5.0", ws("10", "5.0"), codec.ErrBound),
	bad("bound/5.", ws("10", "5."), codec.ErrBound),
	bad("bound/-1", ws("10", "-1"), codec.ErrBound),
	bad("bound/+5", ws("10", "+5"), codec.ErrBound),
	bad("bound/1e1", ws("10", "1e1"), codec.ErrBound),
	bad("bound/word", ws("10", "five"), codec.ErrBound),

	// AT: "AT origin skew client location time", skew "[+-]D+.D+".
	at("at/negative-skew", "AT Ball -12.000000001 😂 -33.8688+151.2093 1.5", "Ball", "-12.000000001", "😂",
		"-33.8688+151.2093", "1.5", -33.8688, 151.2093, codec.Stamp{Sec: 1, Nsec: 500000000}),
	at("at/zero-skew", "AT Welsh +0.000000000 c +0.0+0.0 0", "Welsh", "+0.000000000", "c",
		"+0.0+0.0", "0", 0, 0, codec.Stamp{}),
	at("at/short-skew", "AT Welsh -0.5 c +0.0+0.0 0", "Welsh", "-0.5", "c", "+0.0+0.0", "0", 0, 0, codec.Stamp{}),
	bad("at/skew-unsigned", "AT Alford 0.263873386 kiwi +1.0+2.0 1", codec.ErrSkew),
	bad("at/skew-integer", "AT Alford +1 kiwi +1.0+2.0 1", codec.ErrSkew),
	bad("at/skew-trailing-point", "AT Alford +1. kiwi +1.0+2.0 1", codec.ErrSkew),
	bad("at/skew-leading-point", "AT Alford +.5 kiwi +1.0+2.0 1", codec.ErrSkew),
	bad("at/skew-double-sign", "AT Alford +-1.0 kiwi +1.0+2.0 1", codec.ErrSkew),
	bad("at/skew-exponent", "AT Alford +1.0e3 kiwi +1.0+2.0 1", codec.ErrSkew),
	bad("at/skew-junk", "AT Alford +1.0x kiwi +1.0+2.0 1", codec.ErrSkew),
	bad("at/location", "AT Alford +0.1 kiwi 1.0+2.0 1", codec.ErrLocation),
	bad("at/time", "AT Alford +0.1 kiwi +1.0+2.0 -1", codec.ErrTime),
	bad("at/fields-swapped", "AT Alford kiwi +0.1 +1.0+2.0 1", codec.ErrSkew),

	// PEER handshake.
	{name: "peer/ok", line: "PEER Alford", kind: codec.KindPeer, origin: "Alford"},
	{name: "peer/spaces", line: "\tPEER   Hamilton \r", kind: codec.KindPeer, origin: "Hamilton"},
	{name: "peer/nonce", line: "PEER Hamilton 0123456789abcdef0123456789abcdef", kind: codec.KindPeer, origin: "Hamilton"},
}

func TestParse(t *testing.T) {
	seen := make(map[string]bool, len(parseCases))
	for _, tc := range parseCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			var cmd codec.Command
			err := codec.Parse([]byte(tc.line), &cmd)
			checkParse(t, tc, &cmd, err)
		})
	}
}

func checkParse(t *testing.T, tc parseCase, cmd *codec.Command, err error) {
	t.Helper()
	if tc.err != nil {
		if !errors.Is(err, tc.err) {
			t.Fatalf("Parse(%q) = %v, want %v", tc.line, err, tc.err)
		}
		if cmd.Kind != codec.KindInvalid {
			t.Fatalf("Parse(%q) failed with Kind %v, want %v", tc.line, cmd.Kind, codec.KindInvalid)
		}
		return
	}
	if err != nil {
		t.Fatalf("Parse(%q) = %v, want nil", tc.line, err)
	}
	if cmd.Kind != tc.kind {
		t.Fatalf("Parse(%q) Kind = %v, want %v", tc.line, cmd.Kind, tc.kind)
	}
	eq := func(field string, got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Errorf("Parse(%q) %s = %q, want %q", tc.line, field, got, want)
		}
	}
	near := func(field string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 || math.IsNaN(got) {
			t.Errorf("Parse(%q) %s = %.12g, want %.12g", tc.line, field, got, want)
		}
	}
	switch tc.kind {
	case codec.KindIAMAT, codec.KindAT:
		eq("ClientID", cmd.ClientID, tc.client)
		eq("Location", cmd.Location, tc.loc)
		eq("Time", cmd.Time, tc.time)
		lat, lon := cmd.LatLon()
		near("Lat", lat, tc.lat)
		near("Lon", lon, tc.lon)
		if cmd.Stamp != tc.stamp {
			t.Errorf("Parse(%q) Stamp = %+v, want %+v", tc.line, cmd.Stamp, tc.stamp)
		}
		if tc.kind == codec.KindAT {
			eq("Origin", cmd.Origin, tc.origin)
			eq("Skew", cmd.Skew, tc.skew)
		}
	case codec.KindWHATSAT:
		eq("ClientID", cmd.ClientID, tc.client)
		near("RadiusKm", cmd.RadiusKm, tc.radius)
		if cmd.Bound != tc.bound {
			t.Errorf("Parse(%q) Bound = %d, want %d", tc.line, cmd.Bound, tc.bound)
		}
	case codec.KindPeer:
		eq("Origin", cmd.Origin, tc.origin)
		if f := strings.Fields(tc.line); (len(f) == 3) != (cmd.Nonce != nil) || (len(f) == 3 && string(cmd.Nonce) != f[2]) {
			t.Errorf("Parse(%q) Nonce = %q", tc.line, cmd.Nonce)
		}
	}
}

// TestParseReuse parses every case into one Command, as a connection does,
// so that a stale field from an earlier line cannot pass for a parsed one.
func TestParseReuse(t *testing.T) {
	var cmd codec.Command
	for range 2 {
		for _, tc := range parseCases {
			err := codec.Parse([]byte(tc.line), &cmd)
			t.Run(tc.name, func(t *testing.T) { checkParse(t, tc, &cmd, err) })
		}
	}
}

// TestParseInPlace checks that the fields are sub-slices of the line, not
// copies: the cache, not the codec, decides what to copy.
func TestParseInPlace(t *testing.T) {
	line := []byte("  " + protoAT + " ")
	var cmd codec.Command
	if err := codec.Parse(line, &cmd); err != nil {
		t.Fatal(err)
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(line)))
	hi := lo + uintptr(len(line))
	for name, f := range map[string][]byte{
		"Origin": cmd.Origin, "Skew": cmd.Skew, "ClientID": cmd.ClientID,
		"Location": cmd.Location, "Time": cmd.Time,
	} {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(f)))
		if p < lo || p+uintptr(len(f)) > hi {
			t.Errorf("%s %q does not point into the line", name, f)
		}
	}
	i := strings.Index(string(line), "kiwi")
	if &line[i] != &cmd.ClientID[0] {
		t.Errorf("ClientID starts at the wrong byte")
	}
}

// TestParseSpaceBytes checks each of the six separators, alone, in every
// gap, and that no other byte separates fields.
func TestParseSpaceBytes(t *testing.T) {
	for _, sep := range []string{" ", "\t", "\n", "\v", "\f", "\r"} {
		line := strings.ReplaceAll(protoIAMAT, " ", sep)
		var cmd codec.Command
		if err := codec.Parse([]byte(sep+line+sep), &cmd); err != nil || cmd.Kind != codec.KindIAMAT {
			t.Errorf("separator %q: Parse = %v, Kind %v", sep, err, cmd.Kind)
		}
	}
	for c := range 256 {
		want := c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
		if got := codec.IsSpace(byte(c)); got != want {
			t.Errorf("IsSpace(%#x) = %v, want %v", c, got, want)
		}
		if want {
			continue
		}
		line := strings.ReplaceAll(protoIAMAT, " ", string([]byte{byte(c)}))
		var cmd codec.Command
		if err := codec.Parse([]byte(line), &cmd); err == nil {
			t.Errorf("byte %#x separated fields: Parse(%q) = nil", c, line)
		}
	}
}

// TestParseRadiusPositive: a WHATSAT that Parse accepts must carry a radius
// the Places backend can use, 0 < RadiusKm <= 50. The grammar accepts any
// positive decimal, but the conversion keeps only the first 15 fraction
// digits, leading zeros included, so a tiny positive radius becomes 0.
func TestParseRadiusPositive(t *testing.T) {
	for _, r := range []string{
		"0.000000000000001",   // 1e-15: the smallest that survives
		"0.0000000000000001",  // 1e-16
		"0.00000000000000009", // 9e-17
		"00.0000000000000000000000000000000000001",
	} {
		var cmd codec.Command
		err := codec.Parse([]byte(ws(r, "5")), &cmd)
		if err != nil {
			if !errors.Is(err, codec.ErrRadius) {
				t.Errorf("radius %s: Parse = %v, want nil or ErrRadius", r, err)
			}
			continue
		}
		if !(cmd.RadiusKm > 0 && cmd.RadiusKm <= codec.MaxRadiusKm) {
			t.Errorf("radius %s: accepted with RadiusKm = %g, want 0 < r <= %d", r, cmd.RadiusKm, codec.MaxRadiusKm)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[codec.Kind]string{
		codec.KindInvalid: "invalid", codec.KindIAMAT: "IAMAT", codec.KindWHATSAT: "WHATSAT",
		codec.KindAT: "AT", codec.KindPeer: "PEER", codec.Kind(200): "invalid",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestParseStamp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want codec.Stamp
		ok   bool
	}{
		{"0", codec.Stamp{}, true},
		{"1479413884.392014450", protoStamp, true},
		{"1479413884.39201445", protoStamp, true},
		{"1479413884.3920144509", protoStamp, true},
		{"999999999999999999", codec.Stamp{Sec: 999999999999999999}, true},
		{"000000000000000000000000001.1", codec.Stamp{Sec: 1, Nsec: 100000000}, true},
		{"1000000000000000000", codec.Stamp{}, false},
		{"", codec.Stamp{}, false},
		{" 1", codec.Stamp{}, false},
		{"1 ", codec.Stamp{}, false},
		{"-0", codec.Stamp{}, false},
		{"1.", codec.Stamp{}, false},
		{".1", codec.Stamp{}, false},
		{"1e3", codec.Stamp{}, false},
	} {
		got, ok := codec.ParseStamp([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseStamp(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
