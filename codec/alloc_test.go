//go:build !race

package codec_test

import (
	"testing"

	"github.com/herdnet/herd/codec"
)

// The hot path must not allocate: framing and parsing a line, and encoding
// a reply into a buffer the connection already holds.

func TestAllocsNextLineParse(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"iamat", protoIAMAT + "\r\n"},
		{"whatsat", protoWHATSAT + "\n"},
		{"at", protoAT + "\n"},
		{"peer", "PEER Alford\n"},
		{"invalid", "IAMAT kiwi 34.068930-118.445127 1.0\n"},
		{"last-line", protoIAMAT + "\r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := []byte(tc.in)
			var cmd codec.Command
			allocs := testing.AllocsPerRun(1000, func() {
				line, _, err := codec.NextLine(buf, codec.DefaultMaxLine)
				if err == codec.ErrNeedMore {
					line, err = codec.LastLine(buf, codec.DefaultMaxLine)
				}
				if err != nil {
					panic(err)
				}
				_ = codec.Parse(line, &cmd)
			})
			if allocs != 0 {
				t.Errorf("NextLine+Parse of %q: %v allocs, want 0", tc.in, allocs)
			}
		})
	}
}

func TestAllocsAppend(t *testing.T) {
	var iam codec.Command
	if err := codec.Parse([]byte(protoIAMAT), &iam); err != nil {
		t.Fatal(err)
	}
	var at codec.Command
	if err := codec.Parse([]byte(protoAT), &at); err != nil {
		t.Fatal(err)
	}
	line := []byte("IAMAT kiwi 34.068930-118.445127 1.0")
	dst := make([]byte, 0, 256)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"at", func() { dst = codec.AppendAT(dst[:0], "Alford", protoReceived, &iam) }},
		{"skew", func() { dst = codec.AppendSkew(dst[:0], protoReceived, protoStamp) }},
		{"invalid", func() { dst = codec.AppendInvalid(dst[:0], line) }},
		{"update", func() { dst = codec.AppendUpdate(dst[:0], &at) }},
		{"peer", func() { dst = codec.AppendPeer(dst[:0], "Alford") }},
		{"stamp", func() { _, _ = codec.ParseStamp(iam.Time) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if allocs := testing.AllocsPerRun(1000, tc.f); allocs != 0 {
				t.Errorf("%v allocs, want 0", allocs)
			}
		})
	}
	if string(codec.AppendAT(dst[:0], "Alford", protoReceived, &iam)) != protoAT {
		t.Fatal("AppendAT into the reused buffer went wrong")
	}
}
