package peer

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestAttackBlobHeaderAlone: a neighbour announces the largest payload a
// DIGEST, WANT or HAVE may carry and then sends a few bytes and hangs up (or
// reconnects to do it again). A header of twenty bytes must not cost the
// node the announced size in memory: the payload is read as it arrives.
func TestAttackBlobHeaderAlone(t *testing.T) {
	for _, tt := range []struct {
		word        string
		limit, unit int
	}{
		{"DIGEST", 8 << maxBucketBits, 8},
		{"WANT", 4 << maxBucketBits, 4},
		{"HAVE", maxHave, 8},
	} {
		n := strconv.Itoa(tt.limit)
		r := bufio.NewReader(strings.NewReader(strings.Repeat("\x00", 64)))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := readBlob(r, []byte(n), tt.limit, tt.unit)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s %s then 64 bytes: err %v, want unexpected EOF", tt.word, n, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("%s %s then 64 bytes: %d bytes allocated, want at most 1 MiB", tt.word, n, got)
		}
	}
}

// TestAttackBlobWhole: a payload that does arrive is read whole, at every
// size up to the limit, and one over it is refused before it is read.
func TestAttackBlobWhole(t *testing.T) {
	for _, size := range []int{0, 8, 64 << 10, 1<<20 + 8, 8 << maxBucketBits} {
		payload := strings.Repeat("\x07", size)
		r := bufio.NewReader(strings.NewReader(payload + "tail"))
		got, err := readBlob(r, []byte(strconv.Itoa(size)), 8<<maxBucketBits, 8)
		if err != nil || string(got) != payload {
			t.Fatalf("size %d: got %d bytes, err %v", size, len(got), err)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "tail" {
			t.Fatalf("size %d: read past the payload, %q left", size, rest)
		}
	}
	if _, err := readBlob(bufio.NewReader(strings.NewReader("")), []byte(strconv.Itoa(8<<maxBucketBits+8)), 8<<maxBucketBits, 8); !errors.Is(err, errBadSync) {
		t.Errorf("over the limit: err %v, want errBadSync", err)
	}
}

// TestAttackLineBounds: after the handshake a line may be as long as the
// longest AT line (maxLine), and one longer ends the link; before it (a
// peer that has proved nothing) a line must fit the reader's buffer.
func TestAttackLineBounds(t *testing.T) {
	read := func(f func(*bufio.Reader) ([]byte, error), n int) ([]byte, error) {
		return f(bufio.NewReaderSize(strings.NewReader(strings.Repeat("a", n)+"\r\nnext\n"), 64<<10))
	}
	if got, err := read(readLine, maxLine); err != nil || len(got) != maxLine {
		t.Errorf("a line of maxLine bytes: %d bytes, %v", len(got), err)
	}
	if _, err := read(readLine, maxLine+1); err == nil {
		t.Error("a line over maxLine was read")
	}
	if _, err := read(readLine, 4<<20); err == nil {
		t.Error("a line of 4 MiB was read")
	}
	if got, err := read(readShortLine, 1000); err != nil || len(got) != 1000 {
		t.Errorf("a handshake line of 1000 bytes: %d bytes, %v", len(got), err)
	}
	if _, err := read(readShortLine, 64<<10); err == nil {
		t.Error("a handshake line longer than the reader's buffer was read")
	}
}
