package snapshot

import (
	"bytes"
	"testing"

	"github.com/herdnet/herd/codec"
)

// FuzzRead: no input makes Read panic, and an input it accepts is exactly
// the file Write produces for the entries it applied: nothing but a
// snapshot this package wrote is ever loaded.
//
//	go test -run '^$' -fuzz '^FuzzRead$' -fuzztime 30s ./snapshot
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	for _, lines := range [][]string{nil, sampleLines[:1], sampleLines} {
		good := writeFileTB(f, dir, "Alford", lines)
		f.Add(good)
		f.Add(good[:len(good)/2])
		f.Add(append(bytes.Clone(good), good...))
	}
	f.Add([]byte("HERDSNAP 1 Alford 00000000000000000000 00000000000000000000 00000000\nEND 0 00000000\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var lines []string
		info, err := Read(bytes.NewReader(data), "Alford", func(cmd *codec.Command, line []byte) {
			if cmd.Kind != codec.KindAT {
				t.Fatalf("applied a %v", cmd.Kind)
			}
			lines = append(lines, string(line))
		})
		if err != nil {
			return
		}
		var buf fileBuf
		if _, err := Write(&buf, "Alford", info.Written, seq(lines)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.b, data) {
			t.Fatalf("accepted\n%q\nwhich Write would write as\n%q", data, buf.b)
		}
	})
}
