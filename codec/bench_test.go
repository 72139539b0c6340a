package codec_test

import (
	"strings"
	"testing"

	"github.com/herdnet/herd/codec"
)

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"iamat", protoIAMAT},
		{"whatsat", protoWHATSAT},
		{"at", protoAT},
		{"invalid", "IAMAT kiwi 34.068930-118.445127 1.0"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			line := []byte(bc.line)
			var cmd codec.Command
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				_ = codec.Parse(line, &cmd)
			}
		})
	}
	// The byte-by-byte path alone, side by side with the fast IAMAT path.
	b.Run("iamat-general", func(b *testing.B) {
		line := []byte(protoIAMAT)
		var cmd codec.Command
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			_ = codec.ParseGeneral(line, &cmd)
		}
	})
}

func BenchmarkAppendAT(b *testing.B) {
	var iam codec.Command
	if err := codec.Parse([]byte(protoIAMAT), &iam); err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(protoAT)))
	for b.Loop() {
		dst = codec.AppendAT(dst[:0], "Alford", protoReceived, &iam)
	}
}

func BenchmarkAppendSkew(b *testing.B) {
	dst := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		dst = codec.AppendSkew(dst[:0], protoReceived, protoStamp)
	}
}

// BenchmarkNextLine frames a buffer of pipelined commands, as one read from
// a busy connection would bring them.
func BenchmarkNextLine(b *testing.B) {
	buf := []byte(strings.Repeat(protoIAMAT+"\r\n"+protoWHATSAT+"\n"+protoAT+"\n", 16))
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for rest := buf; len(rest) > 0; {
			_, n, err := codec.NextLine(rest, codec.DefaultMaxLine)
			if err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
}

// BenchmarkNextLineParse is the whole request path of the codec: frame and
// parse every line of the same buffer.
func BenchmarkNextLineParse(b *testing.B) {
	buf := []byte(strings.Repeat(protoIAMAT+"\r\n"+protoWHATSAT+"\n"+protoAT+"\n", 16))
	var cmd codec.Command
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for rest := buf; len(rest) > 0; {
			line, n, err := codec.NextLine(rest, codec.DefaultMaxLine)
			if err != nil {
				b.Fatal(err)
			}
			if err := codec.Parse(line, &cmd); err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
}
