package codec_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/herdnet/herd/codec"
)

func TestNextLine(t *testing.T) {
	const maxLine = 4
	for _, tc := range []struct {
		name    string
		buf     string
		maxLine int
		line    string
		n       int
		err     error
	}{
		{"lf", "abc\n", 16, "abc", 4, nil},
		{"crlf", "abc\r\n", 16, "abc", 5, nil},
		{"cr-inside", "a\rb\n", 16, "a\rb", 4, nil},
		{"cr-inside-crlf", "a\rb\r\n", 16, "a\rb", 5, nil},
		{"one-cr-dropped", "a\r\r\n", 16, "a\r", 4, nil},
		{"empty-lf", "\n", 16, "", 1, nil},
		{"empty-crlf", "\r\n", 16, "", 2, nil},
		{"first-of-two", "ab\ncd\n", 16, "ab", 3, nil},
		{"first-of-two-crlf", "ab\r\ncd\r\n", 16, "ab", 4, nil},
		{"lf-then-partial", "ab\ncd", 16, "ab", 3, nil},
		{"leading-space-kept", "  ab \t\r\n", 16, "  ab \t", 8, nil},
		{"nothing", "", 16, "", 0, codec.ErrNeedMore},
		{"partial", "abc", 16, "", 0, codec.ErrNeedMore},
		{"partial-cr", "abc\r", 16, "", 0, codec.ErrNeedMore},
		{"lone-cr", "\r", 16, "", 0, codec.ErrNeedMore},

		// The limit, with the newline arrived.
		{"at-max-lf", "abcd\n", maxLine, "abcd", 5, nil},
		{"at-max-crlf", "abcd\r\n", maxLine, "abcd", 6, nil},
		{"at-max-with-inner-cr", "abc\r\r\n", maxLine, "abc\r", 6, nil},
		{"over-max-lf", "abcde\n", maxLine, "", 0, codec.ErrLineTooLong},
		{"over-max-crlf", "abcde\r\n", maxLine, "", 0, codec.ErrLineTooLong},
		{"over-max-cr-inside", "abcd\rx\n", maxLine, "", 0, codec.ErrLineTooLong},
		{"over-max-two-cr", "abcd\r\r\n", maxLine, "", 0, codec.ErrLineTooLong},
		{"over-max-second-line", "ab\nabcde\n", maxLine, "ab", 3, nil},
		// The limit, before the newline arrives.
		{"at-max-partial", "abcd", maxLine, "", 0, codec.ErrNeedMore},
		{"over-max-partial", "abcde", maxLine, "", 0, codec.ErrLineTooLong},
		{"over-max-partial-cr", "abcd\r", maxLine, "", 0, codec.ErrNeedMore}, // may be the \r of \r\n
		{"over-max-partial-cr-cr", "abcd\r\r", maxLine, "", 0, codec.ErrLineTooLong},
		{"over-max-partial-cr-x", "abcd\rx", maxLine, "", 0, codec.ErrLineTooLong},
		{"over-max-partial-long", strings.Repeat("x", 100), maxLine, "", 0, codec.ErrLineTooLong},
		{"zero-max-empty", "\r\n", 0, "", 2, nil},
		{"zero-max-cr", "\r", 0, "", 0, codec.ErrNeedMore},
		{"zero-max-byte", "x", 0, "", 0, codec.ErrLineTooLong},

		// The default limit.
		{"default-at-max", strings.Repeat("x", codec.DefaultMaxLine) + "\r\n", codec.DefaultMaxLine,
			strings.Repeat("x", codec.DefaultMaxLine), codec.DefaultMaxLine + 2, nil},
		{"default-over-max", strings.Repeat("x", codec.DefaultMaxLine+1) + "\n", codec.DefaultMaxLine, "", 0, codec.ErrLineTooLong},
		{"default-over-max-partial", strings.Repeat("x", codec.DefaultMaxLine+1), codec.DefaultMaxLine, "", 0, codec.ErrLineTooLong},
		{"default-partial-cr", strings.Repeat("x", codec.DefaultMaxLine) + "\r", codec.DefaultMaxLine, "", 0, codec.ErrNeedMore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, n, err := codec.NextLine([]byte(tc.buf), tc.maxLine)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("NextLine(%q, %d) err = %v, want %v", tc.buf, tc.maxLine, err, tc.err)
			}
			if string(line) != tc.line || n != tc.n {
				t.Fatalf("NextLine(%q, %d) = %q, %d; want %q, %d", tc.buf, tc.maxLine, line, n, tc.line, tc.n)
			}
			if err != nil && line != nil {
				t.Fatalf("NextLine(%q, %d) returned a line with %v", tc.buf, tc.maxLine, err)
			}
		})
	}
}

func TestLastLine(t *testing.T) {
	const maxLine = 4
	for _, tc := range []struct {
		buf  string
		line string
		err  error
	}{
		{"", "", codec.ErrNeedMore},
		{"abc", "abc", nil},
		{"abc\r", "abc", nil},
		{"abc\r\r", "abc\r", nil},
		{"a\rb", "a\rb", nil},
		{"\r", "", nil},
		{" ", " ", nil},
		{"abcd", "abcd", nil},
		{"abcd\r", "abcd", nil},
		{"abcde", "", codec.ErrLineTooLong},
		{"abcd\r\r", "", codec.ErrLineTooLong},
	} {
		line, err := codec.LastLine([]byte(tc.buf), maxLine)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || string(line) != tc.line {
			t.Errorf("LastLine(%q, %d) = %q, %v; want %q, %v", tc.buf, maxLine, line, err, tc.line, tc.err)
		}
	}
}

// framer is the accumulate-and-NextLine loop a connection runs: bytes are
// appended as they arrive, every complete line is taken out, and at EOF the
// rest is one last line. It records each line with what Parse made of it.
type framer struct {
	maxLine int
	buf     []byte
	out     []string
	lines   [][]byte // copies of the lines, as framed
	err     error    // ErrLineTooLong stops the stream, as it closes the connection
	used    int      // bytes of input consumed when err was set
	seen    int      // bytes of input fed so far
}

func (f *framer) record(line []byte) {
	var cmd codec.Command
	err := codec.Parse(line, &cmd)
	f.out = append(f.out, fmt.Sprintf("%q %v %v", line, cmd.Kind, err))
	f.lines = append(f.lines, slices.Clone(line))
}

func (f *framer) feed(p []byte) {
	if f.err != nil {
		return
	}
	f.seen += len(p)
	f.buf = append(f.buf, p...)
	for {
		line, n, err := codec.NextLine(f.buf, f.maxLine)
		if err == codec.ErrNeedMore {
			break
		}
		if err != nil {
			f.err, f.used = err, f.seen
			return
		}
		if n <= 0 || n > len(f.buf) {
			panic(fmt.Sprintf("NextLine used %d of %d bytes", n, len(f.buf)))
		}
		f.record(line)
		// Compact as a connection buffer does, so the slice the next line
		// comes from is not simply the tail of the whole input.
		f.buf = f.buf[:copy(f.buf, f.buf[n:])]
	}
}

func (f *framer) close() {
	if f.err != nil || len(f.buf) == 0 {
		return
	}
	line, err := codec.LastLine(f.buf, f.maxLine)
	if err != nil {
		f.err = err
		return
	}
	f.record(line)
	f.buf = f.buf[:0]
}

func (f *framer) result() string {
	return fmt.Sprintf("%s\nerr=%v", strings.Join(f.out, "\n"), f.err)
}

// frameChunks feeds chunks, in order, to a new framer and closes it.
func frameChunks(maxLine int, chunks ...[]byte) *framer {
	f := &framer{maxLine: maxLine}
	for _, c := range chunks {
		f.feed(c)
	}
	f.close()
	return f
}

// splitRandom cuts in into pieces at random points (some of them empty).
func splitRandom(r *rand.Rand, in []byte) [][]byte {
	var out [][]byte
	for len(in) > 0 {
		n := r.IntN(min(len(in), 12) + 1)
		out = append(out, in[:n])
		in = in[n:]
	}
	return out
}

func bytewise(in []byte) [][]byte {
	out := make([][]byte, len(in))
	for i := range in {
		out[i] = in[i : i+1]
	}
	return out
}

// streamInput mixes every command, \r\n and \n endings, a lone \r inside a
// line, blank and invalid lines, and a last line with no newline.
const streamInput = protoIAMAT + "\r\n" +
	protoWHATSAT + "\n" +
	"\r\n" +
	"LLL\n" +
	"  " + protoAT + " \r\n" +
	"IAMAT a\rb +1.0-2.0 3\n" +
	"iamat kiwi +1.0-2.0 3\r\r\n" +
	"PEER Alford\r\n" +
	"WHATSAT kiwi 51 5\n" +
	"\n" +
	"IAMAT étudiant +90.0-180.0 1.5\r"

var streamWant = []string{
	fmt.Sprintf("%q IAMAT <nil>", protoIAMAT),
	fmt.Sprintf("%q WHATSAT <nil>", protoWHATSAT),
	`"" invalid codec: blank line`,
	`"LLL" invalid codec: unknown command`,
	fmt.Sprintf("%q AT <nil>", "  "+protoAT+" "),
	`"IAMAT a\rb +1.0-2.0 3" invalid codec: wrong number of fields`,
	`"iamat kiwi +1.0-2.0 3\r" invalid codec: unknown command`,
	`"PEER Alford" PEER <nil>`,
	`"WHATSAT kiwi 51 5" invalid codec: bad radius`,
	`"" invalid codec: blank line`,
	`"IAMAT étudiant +90.0-180.0 1.5" IAMAT <nil>`,
}

func TestStreamWhole(t *testing.T) {
	f := frameChunks(codec.DefaultMaxLine, []byte(streamInput))
	if f.err != nil || !slices.Equal(f.out, streamWant) {
		t.Fatalf("got\n%s\nwant\n%s", f.result(), strings.Join(streamWant, "\n"))
	}
}

// TestStreamBytewise feeds one byte at a time (nats-server TestParsePing).
func TestStreamBytewise(t *testing.T) {
	whole := frameChunks(codec.DefaultMaxLine, []byte(streamInput)).result()
	if got := frameChunks(codec.DefaultMaxLine, bytewise([]byte(streamInput))...).result(); got != whole {
		t.Fatalf("bytewise:\n%s\nwhole:\n%s", got, whole)
	}
}

// TestStreamRandomSplits feeds the input cut at random points.
func TestStreamRandomSplits(t *testing.T) {
	in := []byte(streamInput)
	whole := frameChunks(codec.DefaultMaxLine, in).result()
	r := rand.New(rand.NewPCG(6709, 4096))
	for i := range 2000 {
		chunks := splitRandom(r, in)
		if got := frameChunks(codec.DefaultMaxLine, chunks...).result(); got != whole {
			t.Fatalf("iteration %d, chunks %q:\n%s\nwant\n%s", i, chunks, got, whole)
		}
	}
	// Every single cut point, too.
	for i := range len(in) + 1 {
		if got := frameChunks(codec.DefaultMaxLine, in[:i], in[i:]).result(); got != whole {
			t.Fatalf("cut at %d:\n%s\nwant\n%s", i, got, whole)
		}
	}
}

// TestStreamPipe is redcon's io.Pipe test: a writer goroutine sends the
// input in random chunks, a reader reads into a small buffer and frames.
func TestStreamPipe(t *testing.T) {
	in := []byte(strings.Repeat(streamInput+"\n", 20))
	whole := frameChunks(codec.DefaultMaxLine, in).result()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		chunks := splitRandom(r, in)
		pr, pw := io.Pipe()
		go func() {
			for _, c := range chunks {
				if _, err := pw.Write(c); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			pw.Close()
		}()
		f := &framer{maxLine: codec.DefaultMaxLine}
		rb := make([]byte, 1+i%9)
		for {
			n, err := pr.Read(rb)
			f.feed(rb[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		f.close()
		if got := f.result(); got != whole {
			t.Fatalf("iteration %d:\n%s\nwant\n%s", i, got, whole)
		}
	}
}

// TestStreamTooLong checks that an over-long line is refused as soon as
// maxLine+1 bytes of it (maxLine+2 if the last is \r) have arrived, long
// before its newline, however the input is cut.
func TestStreamTooLong(t *testing.T) {
	const maxLine = 16
	for _, tc := range []struct {
		name string
		long string
		used int // input bytes fed when the error is certain
	}{
		{"plain", strings.Repeat("x", 100) + "\n", 3 + maxLine + 1},
		{"cr-at-limit", strings.Repeat("x", maxLine) + "\r" + strings.Repeat("y", 50) + "\r\n", 3 + maxLine + 2},
		{"cr-after-limit", strings.Repeat("x", maxLine+1) + "\r\n", 3 + maxLine + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte("ok\n" + tc.long + "PEER never-reached\n")
			want := `"ok" invalid codec: unknown command` + "\nerr=codec: line too long"
			if got := frameChunks(maxLine, in).result(); got != want {
				t.Fatalf("whole:\n%s\nwant\n%s", got, want)
			}
			f := frameChunks(maxLine, bytewise(in)...)
			if got := f.result(); got != want {
				t.Fatalf("bytewise:\n%s\nwant\n%s", got, want)
			}
			if f.used != tc.used {
				t.Errorf("bytewise: refused after %d bytes, want %d", f.used, tc.used)
			}
			r := rand.New(rand.NewPCG(3, 4))
			for range 200 {
				if got := frameChunks(maxLine, splitRandom(r, in)...).result(); got != want {
					t.Fatalf("random:\n%s\nwant\n%s", got, want)
				}
			}
		})
	}

	// Exactly at the limit is fine, with either ending, however cut.
	in := []byte(strings.Repeat("x", maxLine) + "\r\n" + strings.Repeat("y", maxLine) + "\n" + strings.Repeat("z", maxLine) + "\r")
	want := frameChunks(maxLine, in).result()
	if strings.Contains(want, "too long") || strings.Count(want, "\n") != 3 {
		t.Fatalf("at the limit: %s", want)
	}
	if got := frameChunks(maxLine, bytewise(in)...).result(); got != want {
		t.Fatalf("bytewise:\n%s\nwant\n%s", got, want)
	}
}
