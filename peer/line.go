package peer

import (
	"bufio"
	"errors"
)

// The lines of a link besides AT lines (PEER, AUTH, SYNC, DIGEST, WANT,
// HAVE, PING) are read with readLine and split with fields; a PEER line
// that opens a link is parsed by the codec, which the client port shares.

// readLine reads one line without its "\n" (and "\r"); the slice is valid
// until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			err = errors.New("peer: line too long")
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
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
