package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herdnet/herd/codec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sampleLines are AT lines as caches hold them, odd client ids included.
var sampleLines = []string{
	"AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450",
	"AT Ball -12.000000001 étudiant-😂 +0.0+0.0 1",
	"AT Welsh +0.000000000 x +90.0-180.0 1795698862.392819166",
	"AT Hamilton +1.5 END +1.0+1.0 2",
}

func seq(lines []string) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for _, l := range lines {
			if !yield([]byte(l)) {
				return
			}
		}
	}
}

var written = time.Unix(1795698862, 392819166)

// writeFile writes a snapshot of lines for node into dir and returns its bytes.
func writeFile(t *testing.T, dir, node string, lines []string) []byte {
	t.Helper()
	return writeFileTB(t, dir, node, lines)
}

func writeFileTB(t testing.TB, dir, node string, lines []string) []byte {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Write(f, node, written, seq(lines))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if info.Count != len(lines) || info.Bytes != int64(len(data)) {
		t.Fatalf("Write reported %+v, file has %d entries and %d bytes", info, len(lines), len(data))
	}
	return data
}

// readAll reads data as node's snapshot and returns the entries applied.
func readAll(data []byte, node string) ([]string, Info, error) {
	var got []string
	info, err := Read(bytes.NewReader(data), node, func(cmd *codec.Command, line []byte) {
		if cmd.Kind != codec.KindAT {
			panic("apply got a non-AT command")
		}
		got = append(got, string(line))
	})
	return got, info, err
}

func TestRoundTripByteForByte(t *testing.T) {
	for _, lines := range [][]string{nil, sampleLines[:1], sampleLines} {
		t.Run(fmt.Sprintf("entries=%d", len(lines)), func(t *testing.T) {
			data := writeFile(t, t.TempDir(), "Alford", lines)
			got, info, err := readAll(data, "Alford")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, lines) && !(len(got) == 0 && len(lines) == 0) {
				t.Fatalf("read back\n%q\nwant\n%q", got, lines)
			}
			want := Info{Header: Header{Version: Version, Node: "Alford", Count: len(lines), Written: written}, Bytes: int64(len(data))}
			if info.Version != want.Version || info.Node != want.Node || info.Count != want.Count ||
				!info.Written.Equal(written) || info.Bytes != want.Bytes {
				t.Fatalf("info %+v, want %+v", info, want)
			}
			// Writing what was read gives the same file, byte for byte.
			if again := writeFile(t, t.TempDir(), "Alford", got); !bytes.Equal(again, data) {
				t.Fatalf("rewrite differs:\n%s\nwant\n%s", again, data)
			}
			// The body is the lines, one per line, between header and trailer.
			body := strings.SplitAfterN(string(data), "\n", 2)[1]
			body = body[:strings.LastIndex(strings.TrimSuffix(body, "\n"), "\n")+1]
			if want := strings.Join(lines, "\n"); strings.TrimSuffix(body, "\n") != want {
				t.Fatalf("body %q, want %q", body, want)
			}
		})
	}
}

func TestHeaderLayout(t *testing.T) {
	data := writeFile(t, t.TempDir(), "Alford", sampleLines)
	first, _, _ := strings.Cut(string(data), "\n")
	if want := "HERDSNAP 1 Alford 00000000000000000004 01795698862392819166 "; !strings.HasPrefix(first, want) || len(first) != len(want)+8 {
		t.Fatalf("header %q, want %q + 8 hex digits", first, want)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "END 4 ") || len(last) != len("END 4 ")+8 {
		t.Fatalf("trailer %q", last)
	}
}

// mustReject checks that data is rejected with a FormatError wrapping want
// (any sentinel when want is nil).
func mustReject(t *testing.T, data []byte, node string, want error) *FormatError {
	t.Helper()
	_, _, err := readAll(data, node)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("Read(%q) = %v, want a *FormatError", data, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("Read(%q) = %v, want %v", data, err, want)
	}
	return fe
}

func TestTruncatedAnywhere(t *testing.T) {
	data := writeFile(t, t.TempDir(), "Alford", sampleLines)
	for n := range len(data) {
		if n == 0 {
			mustReject(t, data[:n], "Alford", ErrEmpty)
			continue
		}
		mustReject(t, data[:n], "Alford", nil)
	}
}

func TestFlippedByteAnywhere(t *testing.T) {
	data := writeFile(t, t.TempDir(), "Alford", sampleLines)
	for i := range data {
		for _, mask := range []byte{0x01, 0x02, 0x20, 0x80} {
			bad := bytes.Clone(data)
			bad[i] ^= mask
			_, _, err := readAll(bad, "Alford")
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("byte %d ^ %#x (%q -> %q) was not rejected: %v", i, mask, data[i], bad[i], err)
			}
		}
	}
}

func TestRejects(t *testing.T) {
	good := writeFile(t, t.TempDir(), "Alford", sampleLines)
	v2 := bytes.Replace(good, []byte("HERDSNAP 1 "), []byte("HERDSNAP 2 "), 1)
	for _, tc := range []struct {
		name string
		data []byte
		node string
		want error
	}{
		{"empty", nil, "Alford", ErrEmpty},
		{"wrong-node", good, "Ball", ErrNode},
		{"wrong-version", v2, "Alford", ErrVersion},
		{"not-a-snapshot", []byte("AT Alford +0.1 x +1.0+1.0 1\n"), "Alford", ErrMagic},
		{"garbage", bytes.Repeat([]byte{0xff}, 100), "Alford", ErrTruncated},
		{"after-trailer", append(bytes.Clone(good), "AT"...), "Alford", ErrEntry},
		{"second-trailer", append(bytes.Clone(good), good[bytes.LastIndex(good[:len(good)-1], []byte("\n"))+1:]...), "Alford", ErrEntry},
		{"no-trailer", good[:bytes.LastIndex(good[:len(good)-1], []byte("\n"))+1], "Alford", ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fe := mustReject(t, tc.data, tc.node, tc.want)
			if fe.Error() == "" || !strings.HasPrefix(fe.Error(), "snapshot: ") {
				t.Errorf("message %q", fe.Error())
			}
		})
	}
}

// An entry that is not a valid AT line is rejected even when the file's
// checksums are right: the writer never produces one, so the file lies.
func TestRejectsInvalidEntryWithGoodChecksum(t *testing.T) {
	for _, line := range []string{
		"AT Alford +0.1 x +91.0+1.0 1",  // latitude out of range
		"AT Alford +0.1  x +1.0+1.0 1",  // not canonical
		"IAMAT x +1.0+1.0 1",            // not an AT line
		"AT Alford +0.1 x +1.0+1.0 1 2", // arity
	} {
		data := writeFile(t, t.TempDir(), "Alford", []string{sampleLines[0], line})
		fe := mustReject(t, data, "Alford", ErrEntry)
		if !strings.Contains(fe.Error(), "x") {
			t.Errorf("%q: message %q does not quote the entry", line, fe.Error())
		}
	}
	// A count that disagrees with the body.
	data := writeFile(t, t.TempDir(), "Alford", sampleLines)
	i := bytes.Index(data, []byte("\nEND 4 "))
	bad := slices.Concat(data[:i+1], []byte("END 3"), data[i+6:])
	mustReject(t, bad, "Alford", ErrCount)
}

// errReader fails after its data: an I/O error is returned as it is.
type errReader struct{ r io.Reader }

var errDisk = errors.New("disk on fire")

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errDisk
	}
	return n, err
}

func TestReadErrorIsNotFormatError(t *testing.T) {
	data := writeFile(t, t.TempDir(), "Alford", sampleLines)
	_, err := Read(&errReader{bytes.NewReader(data[:len(data)/2])}, "Alford", func(*codec.Command, []byte) {})
	var fe *FormatError
	if !errors.Is(err, errDisk) || errors.As(err, &fe) {
		t.Fatalf("Read = %v, want %v unwrapped", err, errDisk)
	}
}
