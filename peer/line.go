package peer

import (
	"bufio"
	"errors"
)

// The lines of a link besides AT lines (PEER, AUTH, SYNC, DIGEST, WANT,
// HAVE, PING) are read with readLine and split with fields; a PEER line
// that opens a link is parsed by the codec, which the client port shares.

// maxLine bounds a line between nodes: an AT line of the longest client
// line limits.max_line allows (1 MiB) with room for the fields AT adds.
const maxLine = 1<<20 + 4<<10

// readLine reads one line without its "\n" (and "\r"); the slice is valid
// until the next read. A line longer than the reader's buffer is gathered
// into a new slice, up to maxLine.
func readLine(r *bufio.Reader) ([]byte, error) { return readLineMax(r, maxLine) }

// readShortLine reads a line of the handshake, which must fit the reader's
// buffer: a peer that has not proved itself gets no bigger allocation.
func readShortLine(r *bufio.Reader) ([]byte, error) { return readLineMax(r, 0) }

var errLineTooLong = errors.New("peer: line too long")

func readLineMax(r *bufio.Reader, limit int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull && limit > 0 {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(long) <= limit+2 {
			line, err = r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if err == bufio.ErrBufferFull {
			err = errLineTooLong
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if limit > 0 && len(line) > limit {
		return nil, errLineTooLong
	}
	return line, nil
}

func writeLine(w *bufio.Writer, fields ...string) error {
	for i, f := range fields {
		if i > 0 {
			_ = w.WriteByte(' ')
		}
		_, _ = w.WriteString(f)
	}
	_ = w.WriteByte('\n')
	return w.Flush()
}

// maxFields is the most fields a link's control line has ("PEER name
// nonce mac").
const maxFields = 4

// fields splits line at runs of spaces into f, without allocating, and
// returns how many fields it has, or -1 when it has more than maxFields.
func fields(line []byte, f *[maxFields][]byte) int {
	n := 0
	for i := 0; i < len(line); {
		if line[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if n == maxFields {
			return -1
		}
		f[n] = line[i:j]
		n++
		i = j
	}
	return n
}
