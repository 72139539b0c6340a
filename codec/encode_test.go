package codec_test

import (
	"testing"

	"github.com/herdnet/herd/codec"
)

// protoReceived is when Alford received the IAMAT of docs/PROTOCOL.md: the
// client's time plus the skew of its AT line (The AT line).
var protoReceived = codec.Stamp{Sec: 1479413884, Nsec: 655887836}

func TestAppendSkew(t *testing.T) {
	const maxSec = 999999999999999999
	for _, tc := range []struct {
		name           string
		received, sent codec.Stamp
		want           string
	}{
		{"proto", protoReceived, protoStamp, "+0.263873386"},
		{"proto-negative", codec.Stamp{Sec: 100}, codec.Stamp{Sec: 112, Nsec: 1}, "-12.000000001"},
		{"zero", protoStamp, protoStamp, "+0.000000000"},
		{"zero-epoch", codec.Stamp{}, codec.Stamp{}, "+0.000000000"},
		{"one-nanosecond", codec.Stamp{Sec: 10, Nsec: 1}, codec.Stamp{Sec: 10}, "+0.000000001"},
		{"minus-one-nanosecond", codec.Stamp{Sec: 10}, codec.Stamp{Sec: 10, Nsec: 1}, "-0.000000001"},
		{"whole-seconds", codec.Stamp{Sec: 7}, codec.Stamp{Sec: 3}, "+4.000000000"},
		{"borrow", codec.Stamp{Sec: 5, Nsec: 100}, codec.Stamp{Sec: 3, Nsec: 200}, "+1.999999900"},
		{"borrow-negative", codec.Stamp{Sec: 3, Nsec: 200}, codec.Stamp{Sec: 5, Nsec: 100}, "-1.999999900"},
		{"borrow-to-zero", codec.Stamp{Sec: 4}, codec.Stamp{Sec: 3, Nsec: 999999999}, "+0.000000001"},
		{"no-borrow-at-max", codec.Stamp{Sec: 4, Nsec: 999999999}, codec.Stamp{Sec: 3}, "+1.999999999"},
		{"large", codec.Stamp{Sec: maxSec, Nsec: 999999999}, codec.Stamp{}, "+999999999999999999.999999999"},
		{"large-negative", codec.Stamp{}, codec.Stamp{Sec: maxSec, Nsec: 999999999}, "-999999999999999999.999999999"},
		{"large-borrow", codec.Stamp{Sec: maxSec}, codec.Stamp{Nsec: 1}, "+999999999999999998.999999999"},
		{"now-vs-epoch", codec.Stamp{Sec: 1763000000, Nsec: 5}, codec.Stamp{}, "+1763000000.000000005"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(codec.AppendSkew(nil, tc.received, tc.sent)); got != tc.want {
				t.Errorf("AppendSkew(%+v, %+v) = %q, want %q", tc.received, tc.sent, got, tc.want)
			}
			// It appends, and leaves what was there alone.
			dst := append(make([]byte, 0, 64), "AT x "...)
			if got := string(codec.AppendSkew(dst, tc.received, tc.sent)); got != "AT x "+tc.want {
				t.Errorf("AppendSkew after a prefix = %q", got)
			}
			// An AT line's skew must be valid for Parse.
			line := "AT x " + tc.want + " c +0.0+0.0 1"
			var cmd codec.Command
			if err := codec.Parse([]byte(line), &cmd); err != nil {
				t.Errorf("Parse(%q) = %v", line, err)
			}
		})
	}
}

func TestAppendAT(t *testing.T) {
	for _, in := range []string{
		protoIAMAT,
		"  IAMAT\tkiwi.cs.ucla.edu \f +34.068930-118.445127\v\r1479413884.392014450 \t",
	} {
		var iam codec.Command
		if err := codec.Parse([]byte(in), &iam); err != nil {
			t.Fatalf("Parse(%q) = %v", in, err)
		}
		got := codec.AppendAT(nil, "Alford", protoReceived, &iam)
		if string(got) != protoAT {
			t.Errorf("AppendAT(%q) =\n%q, want\n%q", in, got, protoAT)
		}
		var a codec.Command
		if err := codec.Parse(got, &a); err != nil || a.Kind != codec.KindAT {
			t.Fatalf("Parse(AppendAT) = %v, Kind %v", err, a.Kind)
		}
		alat, alon := a.LatLon()
		ilat, ilon := iam.LatLon()
		if a.Stamp != iam.Stamp || alat != ilat || alon != ilon {
			t.Errorf("AT parsed to %+v, IAMAT to %+v", a, iam)
		}
	}

	// Fields are copied verbatim: more than nine decimals, leading zeros.
	in := "IAMAT 😂 +090.0-000.5 0001.0000000019"
	var iam codec.Command
	if err := codec.Parse([]byte(in), &iam); err != nil {
		t.Fatal(err)
	}
	got := codec.AppendAT([]byte("prefix|"), "Welsh", codec.Stamp{Sec: 1}, &iam)
	if want := "prefix|AT Welsh -0.000000001 😂 +090.0-000.5 0001.0000000019"; string(got) != want {
		t.Errorf("AppendAT = %q, want %q", got, want)
	}
}

func TestAppendUpdate(t *testing.T) {
	for _, in := range []string{
		protoAT,
		"AT  Alford\t+0.263873386   kiwi.cs.ucla.edu \t+34.068930-118.445127  1479413884.392014450  ",
		"\r\f\vAT\rAlford\r+0.263873386\rkiwi.cs.ucla.edu\r+34.068930-118.445127\r1479413884.392014450\r",
	} {
		var a codec.Command
		if err := codec.Parse([]byte(in), &a); err != nil {
			t.Fatalf("Parse(%q) = %v", in, err)
		}
		got := codec.AppendUpdate(nil, &a)
		if string(got) != protoAT {
			t.Errorf("AppendUpdate(%q) =\n%q, want\n%q", in, got, protoAT)
		}
		// Canonical form is a fixed point.
		var b codec.Command
		if err := codec.Parse(got, &b); err != nil {
			t.Fatal(err)
		}
		if again := codec.AppendUpdate(got[len(got):], &b); string(again) != string(got) {
			t.Errorf("AppendUpdate not idempotent: %q then %q", got, again)
		}
	}
}

func TestAppendInvalid(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"LLL", "? LLL\n"},
		{"IAMAT kiwi 34.068930-118.445127 1.0", "? IAMAT kiwi 34.068930-118.445127 1.0\n"},
		{"WHATSAT kiwi 51 5", "? WHATSAT kiwi 51 5\n"},
		{"WHATSAT never-seen-client 10 5", "? WHATSAT never-seen-client 10 5\n"},
		{"", "? \n"},
		{"  \tleading kept  ", "?   \tleading kept  \n"},
		{"a\rb", "? a\rb\n"},
		{"\x00\xff😂", "? \x00\xff😂\n"},
	} {
		if got := string(codec.AppendInvalid(nil, []byte(tc.line))); got != tc.want {
			t.Errorf("AppendInvalid(%q) = %q, want %q", tc.line, got, tc.want)
		}
		if got := string(codec.AppendInvalid([]byte("x\n"), []byte(tc.line))); got != "x\n"+tc.want {
			t.Errorf("AppendInvalid after a prefix = %q", got)
		}
	}
	// From framing to reply, as the engine does it.
	buf := []byte("  LLL \r\n")
	line, _, err := codec.NextLine(buf, codec.DefaultMaxLine)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(codec.AppendInvalid(nil, line)); got != "?   LLL \n" {
		t.Errorf("reply to %q = %q", buf, got)
	}
}

func TestAppendPeer(t *testing.T) {
	got := codec.AppendPeer([]byte("x"), "Alford")
	if string(got) != "xPEER Alford\n" {
		t.Fatalf("AppendPeer = %q", got)
	}
	line, n, err := codec.NextLine(got[1:], codec.DefaultMaxLine)
	if err != nil || n != len(got)-1 {
		t.Fatalf("NextLine(%q) = %q, %d, %v", got[1:], line, n, err)
	}
	var cmd codec.Command
	if err := codec.Parse(line, &cmd); err != nil || cmd.Kind != codec.KindPeer || string(cmd.Origin) != "Alford" {
		t.Fatalf("Parse(%q) = %v, %v %q", line, err, cmd.Kind, cmd.Origin)
	}
}

func TestStampCompare(t *testing.T) {
	stamps := []codec.Stamp{ // ascending
		{},
		{Nsec: 1},
		{Nsec: 999999999},
		{Sec: 1},
		{Sec: 1, Nsec: 1},
		protoStamp,
		protoReceived,
		{Sec: 1479413885},
		{Sec: 999999999999999999, Nsec: 999999999},
	}
	for i, s := range stamps {
		for j, u := range stamps {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := s.Compare(u); got != want {
				t.Errorf("%+v.Compare(%+v) = %d, want %d", s, u, got, want)
			}
		}
	}

	// Digits past the ninth decimal do not count.
	a, _ := codec.ParseStamp([]byte("1.0000000001"))
	b, _ := codec.ParseStamp([]byte("1.000000000"))
	c, _ := codec.ParseStamp([]byte("1"))
	if a.Compare(b) != 0 || b.Compare(c) != 0 {
		t.Errorf("%+v, %+v and %+v should compare equal", a, b, c)
	}
}
