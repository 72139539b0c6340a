package codec_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/herdnet/herd/codec"
)

var parseErrors = []error{
	codec.ErrEmpty, codec.ErrCommand, codec.ErrArity, codec.ErrLocation,
	codec.ErrTime, codec.ErrRadius, codec.ErrBound, codec.ErrSkew,
}

// FuzzParse checks Parse's invariants: it never panics, fails only with its
// sentinels, hands out non-empty fields without white space and in range,
// ignores surrounding white space, and every valid IAMAT or AT survives the
// trip through the encoder and back.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var cmd codec.Command
		err := codec.Parse(line, &cmd)

		// Surrounding white space never matters.
		var padded codec.Command
		perr := codec.Parse(append(append([]byte(" \t"), line...), '\r', '\f'), &padded)
		if perr != err || padded.Kind != cmd.Kind {
			t.Fatalf("Parse(%q) = %v, %v but padded = %v, %v", line, cmd.Kind, err, padded.Kind, perr)
		}

		if err != nil {
			if cmd.Kind != codec.KindInvalid {
				t.Fatalf("Parse(%q) = %v with Kind %v", line, err, cmd.Kind)
			}
			for _, e := range parseErrors {
				if err == e {
					return
				}
			}
			t.Fatalf("Parse(%q) = %v: not a codec sentinel", line, err)
		}

		field := func(name string, b []byte) {
			t.Helper()
			if len(b) == 0 {
				t.Fatalf("Parse(%q): empty %s", line, name)
			}
			for _, c := range b {
				if codec.IsSpace(c) {
					t.Fatalf("Parse(%q): %s %q holds white space", line, name, b)
				}
			}
			if !bytes.Contains(line, b) {
				t.Fatalf("Parse(%q): %s %q is not from the line", line, name, b)
			}
		}
		switch cmd.Kind {
		case codec.KindIAMAT, codec.KindAT:
			field("ClientID", cmd.ClientID)
			field("Location", cmd.Location)
			field("Time", cmd.Time)
			if lat, lon := cmd.LatLon(); !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
				t.Fatalf("Parse(%q): location %v, %v out of range", line, lat, lon)
			}
			if st, ok := codec.ParseStamp(cmd.Time); !ok || st != cmd.Stamp {
				t.Fatalf("Parse(%q): Stamp %+v, ParseStamp(Time) = %+v, %v", line, cmd.Stamp, st, ok)
			}
			if cmd.Stamp.Sec < 0 || cmd.Stamp.Sec >= 1e18 || cmd.Stamp.Nsec < 0 || cmd.Stamp.Nsec >= 1e9 {
				t.Fatalf("Parse(%q): Stamp %+v out of range", line, cmd.Stamp)
			}
		case codec.KindWHATSAT:
			field("ClientID", cmd.ClientID)
			if !(cmd.RadiusKm > 0 && cmd.RadiusKm <= codec.MaxRadiusKm) {
				t.Fatalf("Parse(%q): RadiusKm %v out of (0, %d]", line, cmd.RadiusKm, codec.MaxRadiusKm)
			}
			if cmd.Bound < 1 || cmd.Bound > codec.MaxBound {
				t.Fatalf("Parse(%q): Bound %d out of [1, %d]", line, cmd.Bound, codec.MaxBound)
			}
		case codec.KindPeer:
			field("Origin", cmd.Origin)
			hs := codec.AppendPeer(nil, string(cmd.Origin))
			l, _, err := codec.NextLine(hs, len(hs))
			var p codec.Command
			if err != nil || codec.Parse(l, &p) != nil || p.Kind != codec.KindPeer || !bytes.Equal(p.Origin, cmd.Origin) {
				t.Fatalf("PEER %q does not round-trip through %q", cmd.Origin, hs)
			}
		default:
			t.Fatalf("Parse(%q) = nil with Kind %v", line, cmd.Kind)
		}

		var at []byte
		switch cmd.Kind {
		case codec.KindIAMAT:
			at = codec.AppendAT(nil, "Alford", protoReceived, &cmd)
		case codec.KindAT:
			field("Origin", cmd.Origin)
			field("Skew", cmd.Skew)
			at = codec.AppendUpdate(nil, &cmd)
		default:
			return
		}
		var back codec.Command
		if err := codec.Parse(at, &back); err != nil || back.Kind != codec.KindAT {
			t.Fatalf("Parse(%q) -> %q -> %v, %v", line, at, back.Kind, err)
		}
		if !bytes.Equal(back.ClientID, cmd.ClientID) || !bytes.Equal(back.Location, cmd.Location) ||
			!bytes.Equal(back.Time, cmd.Time) || back.Stamp != cmd.Stamp ||
			!sameLatLon(&back, &cmd) {
			t.Fatalf("Parse(%q) -> %q changed the client's fields", line, at)
		}
		if cmd.Kind == codec.KindAT && (!bytes.Equal(back.Origin, cmd.Origin) || !bytes.Equal(back.Skew, cmd.Skew)) {
			t.Fatalf("Parse(%q) -> %q changed origin or skew", line, at)
		}
		if cmd.Kind == codec.KindIAMAT {
			want := codec.AppendSkew(nil, protoReceived, cmd.Stamp)
			if string(back.Origin) != "Alford" || !bytes.Equal(back.Skew, want) {
				t.Fatalf("Parse(%q) -> %q: origin %q skew %q", line, at, back.Origin, back.Skew)
			}
		}
		// The canonical form is a fixed point.
		if again := codec.AppendUpdate(nil, &back); !bytes.Equal(again, at) {
			t.Fatalf("AppendUpdate(%q) = %q", at, again)
		}
	})
}

// FuzzNextLine checks that framing does not depend on how the input is cut:
// whole, cut at one point, or byte by byte, the same lines come out and an
// over-long line is refused the same way.
func FuzzNextLine(f *testing.F) {
	f.Add([]byte(streamInput), uint16(0), uint16(codec.DefaultMaxLine))
	f.Add([]byte(streamInput), uint16(70), uint16(16))
	f.Add([]byte("abcd\r\nabcd\r"), uint16(5), uint16(4))
	f.Add([]byte("abcd\rx\n"), uint16(5), uint16(4))
	f.Add([]byte("ok\nabcde\r\r\n"), uint16(8), uint16(4))
	f.Add([]byte("\r\r\n\r\n\n\r"), uint16(1), uint16(0))
	for _, tc := range parseCases {
		f.Add([]byte(tc.line+"\r\n"+tc.line), uint16(len(tc.line)+1), uint16(len(tc.line)))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut, maxLine uint16) {
		limit := int(maxLine % 300)
		k := int(cut) % (len(in) + 1)
		whole := frameChunks(limit, in)
		want := whole.result()
		if got := frameChunks(limit, in[:k], in[k:]).result(); got != want {
			t.Fatalf("cut at %d:\n%s\nwhole:\n%s", k, got, want)
		}
		if len(in) <= 512 {
			if got := frameChunks(limit, bytewise(in)...).result(); got != want {
				t.Fatalf("bytewise:\n%s\nwhole:\n%s", got, want)
			}
		}
		// Every line that came out is within the limit, holds no "\n", and
		// the lines with their endings add up to a prefix of the input.
		rest := in
		for _, l := range whole.lines {
			if len(l) > limit || bytes.IndexByte(l, '\n') >= 0 {
				t.Fatalf("line %q: over %d bytes or holds a newline", l, limit)
			}
			if !bytes.HasPrefix(rest, l) {
				t.Fatalf("line %q is not next in %q", l, rest)
			}
			rest = rest[len(l):]
			switch {
			case bytes.HasPrefix(rest, []byte("\r\n")):
				rest = rest[2:]
			case bytes.HasPrefix(rest, []byte("\n")), len(rest) == 1 && rest[0] == '\r':
				rest = rest[1:]
			case len(rest) != 0:
				t.Fatalf("line %q is followed by %q", l, rest)
			}
		}
		if whole.err == nil && len(rest) != 0 {
			t.Fatalf("input %q left over without an error", rest)
		}
		if whole.err != nil && !errors.Is(whole.err, codec.ErrLineTooLong) {
			t.Fatalf("framing failed with %v", whole.err)
		}
	})
}

func sameLatLon(a, b *codec.Command) bool {
	alat, alon := a.LatLon()
	blat, blon := b.LatLon()
	return alat == blat && alon == blon
}

// FuzzParseFast checks the word-at-a-time IAMAT path against the
// byte-by-byte one: whatever it accepts, the general path accepts with the
// same fields; it never accepts what the general path refuses.
func FuzzParseFast(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.line))
	}
	for _, s := range []string{
		"IAMAT a +89.999-179.9 1", "IAMAT a +90.0-179.9 1", "IAMAT a +9.0+180.0 1",
		"IAMAT a +0.0+0.0 123456789012345678", "IAMAT a +0.0+0.0 1234567890123456789",
		"IAMAT a +0.0+0.0 12345678.12345678", "IAMAT a +0.0+0.0 1.1234567891234",
		"IAMAT a +0.0+0.0 1.12345678x", "IAMAT a +0.0+0.0 1234567x.1", "IAMAT a\x00b +0.0+0.0 1",
		"IAMAT a +0.0+0.0 1.", "IAMAT a +0.0+0.0 .1", "IAMAT a +0000.0+0.0 1", "IAMAT  a +0.0+0.0 1",
		"IAMAT a +0.0+0.0 1 ", "IAMAT a +0.0+0.0 99999999.99999999",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast, slow codec.Command
		ok := codec.ParseIAMATFast(line, &fast)
		err := codec.ParseGeneral(line, &slow)
		if !ok {
			return
		}
		if err != nil || slow.Kind != codec.KindIAMAT {
			t.Fatalf("fast path accepted %q, general path: %v", line, err)
		}
		if fast.Kind != slow.Kind || !bytes.Equal(fast.ClientID, slow.ClientID) || !bytes.Equal(fast.Location, slow.Location) ||
			!bytes.Equal(fast.Time, slow.Time) || fast.Stamp != slow.Stamp ||
			cap(fast.ClientID) != len(fast.ClientID) || cap(fast.Location) != len(fast.Location) {
			t.Fatalf("%q: fast %+v, general %+v", line, fast, slow)
		}
	})
}
