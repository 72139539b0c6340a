package load

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/herdnet/herd/codec"
)

// fullIAMATCheck is the reply check feedIAMAT falls back to: codec.Parse of
// the request and the reply, and a comparison of the three copied fields.
func fullIAMATCheck(req, reply []byte) bool {
	var q, r codec.Command
	if codec.Parse(req, &q) != nil || q.Kind != codec.KindIAMAT {
		return false
	}
	if codec.Parse(reply, &r) != nil || r.Kind != codec.KindAT {
		return false
	}
	return bytes.Equal(r.ClientID, q.ClientID) && bytes.Equal(r.Location, q.Location) && bytes.Equal(r.Time, q.Time)
}

// isCanonicalAT reports whether reply is single-spaced with six fields and
// no white space other than those five spaces: the form the fast check is
// meant to judge on its own.
func isCanonicalAT(reply []byte) bool {
	for _, b := range reply {
		if b != ' ' && codec.IsSpace(b) {
			return false
		}
	}
	f := bytes.Split(reply, []byte(" "))
	if len(f) != 6 {
		return false
	}
	for _, x := range f {
		if len(x) == 0 {
			return false
		}
	}
	return true
}

var attackRequests = []string{
	"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450",
	"IAMAT a +1.0-2.0 1",
	"IAMAT \xff\x00id +90.0+180.0 0.000000001",
	"IAMAT é😂 -0.5+0.5 12345678901234567",
}

// mutateReply returns a variant of a good reply: a byte changed, dropped,
// duplicated or inserted, or a field swapped for a tricky one.
func mutateReply(rng *rand.Rand, good []byte) []byte {
	b := bytes.Clone(good)
	alphabet := []byte(" \t\r\v\f+-.0123456789ATxé\xff\x00")
	switch rng.IntN(8) {
	case 0: // change a byte
		if len(b) > 0 {
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		}
	case 1: // drop a byte
		if len(b) > 0 {
			i := rng.IntN(len(b))
			b = append(b[:i], b[i+1:]...)
		}
	case 2: // insert a byte
		i := rng.IntN(len(b) + 1)
		b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
	case 3: // duplicate a span
		i := rng.IntN(len(b) + 1)
		j := i + rng.IntN(len(b)-i+1)
		b = append(b[:j], append(bytes.Clone(b[i:j]), b[j:]...)...)
	case 4, 5, 6, 7: // replace the server name or the skew with a tricky one
		f := bytes.SplitN(b, []byte(" "), 4)
		if len(f) != 4 {
			return b
		}
		names := []string{"Alford", "Al\tford", "Al\vford", "Al\x00ford", "A", "Al\rford", "Alford\r", "\xff"}
		skews := []string{"+0.263873386", "-12.000000001", "+5", "-5", "+0", "+.5", "+5.", "+1.2.3", "++1.0",
			"+1234567890123456789.5", "+12345678901234567890.000000001", "+0.1\t", "+0x1.0", "+1e3", "+inf", "-0.000000000", "+0.1\r"}
		if rng.IntN(2) == 0 {
			f[1] = []byte(names[rng.IntN(len(names))])
		} else {
			f[2] = []byte(skews[rng.IntN(len(skews))])
		}
		b = bytes.Join(f, []byte(" "))
	}
	return b
}

// TestAttackCanonicalATNeverAcceptsWhatParseRejects: canonicalAT must not
// accept a reply the full codec.Parse check rejects (it would hide a wrong
// reply), and on single-spaced six-field replies it must agree with the
// full check. A seeded, bounded mutation loop.
func TestAttackCanonicalATNeverAcceptsWhatParseRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	falseAccepts, falseRejects := 0, 0
	for _, req := range attackRequests {
		fields := []byte(req[len("IAMAT "):])
		good := append([]byte("AT Alford +0.263873386 "), fields...)
		if !canonicalAT(good, fields) || !fullIAMATCheck([]byte(req), good) {
			t.Fatalf("the good reply %q to %q is not accepted", good, req)
		}
		for range 3000 {
			reply := mutateReply(rng, good)
			if rng.IntN(4) == 0 {
				reply = mutateReply(rng, reply)
			}
			fast, full := canonicalAT(reply, fields), fullIAMATCheck([]byte(req), reply)
			switch {
			case fast && !full:
				if falseAccepts++; falseAccepts <= 10 {
					t.Errorf("canonicalAT accepts %q for %q; codec.Parse rejects it", reply, req)
				}
			case !fast && full && isCanonicalAT(reply):
				if falseRejects++; falseRejects <= 10 {
					t.Errorf("canonicalAT rejects the canonical %q for %q; codec.Parse accepts it", reply, req)
				}
			}
		}
	}
}

// TestAttackCanonicalATCases: hand-picked replies, each judged by both.
func TestAttackCanonicalATCases(t *testing.T) {
	req := "IAMAT kiwi +34.068930-118.445127 1479413884.392014450"
	fields := []byte(req[len("IAMAT "):])
	for _, tc := range []struct {
		reply string
		want  bool
	}{
		{"AT Alford +0.263873386 kiwi +34.068930-118.445127 1479413884.392014450", true},
		{"AT Alford -12.000000001 kiwi +34.068930-118.445127 1479413884.392014450", true},
		{"AT Alford +0.263873386 kiwi2 +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford +0.263873386 xkiwi +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford +0.263873386 other kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford +0.263873386 kiwi +34.068930-118.445128 1479413884.392014450", false},
		{"AT Alford +0.263873386 kiwi +34.068930-118.445127 1479413884.392014451", false},
		{"AT Alford +0.263873386 kiwi +34.068930-118.445127 1479413884.392014450 x", false},
		{"AT +0.263873386 kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford 0.263873386 kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford +.263873386 kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford +0. kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford Ball +0.1 kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"AT Alford +0.1 +0.1 kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"IAMAT kiwi +34.068930-118.445127 1479413884.392014450", false},
		{"", false},
		{"AT ", false},
		{"AT  kiwi +34.068930-118.445127 1479413884.392014450", false},
	} {
		fast, full := canonicalAT([]byte(tc.reply), fields), fullIAMATCheck([]byte(req), []byte(tc.reply))
		if full != tc.want {
			t.Fatalf("test table: the full check says %v for %q", full, tc.reply)
		}
		if fast && !full {
			t.Errorf("canonicalAT accepts %q, which the full check rejects", tc.reply)
		}
		// feedIAMAT as a whole must give the full check's verdict.
		var e expect
		e.set(reqIAMAT, []byte(req+"\n"))
		done, err := e.feed([]byte(tc.reply))
		if !done || (err == nil) != tc.want {
			t.Errorf("feed(%q) = %v, %v; want accepted=%v", tc.reply, done, err, tc.want)
		}
	}
}

// TestAttackCanonicalATFalseAccepts: replies codec.Parse rejects that the
// fast path lets through (so feed reports them as good).
func TestAttackCanonicalATFalseAccepts(t *testing.T) {
	req := "IAMAT kiwi +34.068930-118.445127 1479413884.392014450"
	for _, reply := range []string{
		"AT Alford +5 kiwi +34.068930-118.445127 1479413884.392014450",
		"AT Al\tford +0.263873386 kiwi +34.068930-118.445127 1479413884.392014450",
	} {
		if fullIAMATCheck([]byte(req), []byte(reply)) {
			t.Fatalf("full check accepts %q", reply)
		}
		var e expect
		e.set(reqIAMAT, []byte(req))
		if _, err := e.feed([]byte(reply)); err == nil {
			t.Errorf("feed accepts %q, which codec.Parse rejects", reply)
		}
	}
}
