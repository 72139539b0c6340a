package codec

import (
	"bytes"
	"errors"
)

// DefaultMaxLine is the default limit on a line's length in bytes, not
// counting its "\n" or the "\r" before it.
const DefaultMaxLine = 4096

var (
	// ErrNeedMore means buf holds no complete line yet: wait for more bytes.
	ErrNeedMore = errors.New("codec: need more bytes")
	// ErrLineTooLong means the line in buf is longer than the limit, whether or
	// not its newline has arrived. The connection should be answered and closed.
	ErrLineTooLong = errors.New("codec: line too long")
)

// NextLine returns the first line in buf, without its "\n" and without one
// "\r" right before it, and n, the number of bytes it used up (line plus
// terminator). It reports ErrNeedMore when buf holds no "\n" and is still
// within maxLine, and ErrLineTooLong as soon as the line is known to exceed
// maxLine, even before its newline arrives.
func NextLine(buf []byte, maxLine int) (line []byte, n int, err error) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		// An incomplete line may end in the "\r" of a "\r\n" still in flight.
		if len(buf) > maxLine+1 || (len(buf) == maxLine+1 && buf[maxLine] != '\r') {
			return nil, 0, ErrLineTooLong
		}
		return nil, 0, ErrNeedMore
	}
	line = buf[:i]
	if i > 0 && line[i-1] == '\r' {
		line = line[:i-1]
	}
	if len(line) > maxLine {
		return nil, 0, ErrLineTooLong
	}
	return line, i + 1, nil
}

// LastLine turns the bytes a client left when it half-closed into a final
// line, as docs/PROTOCOL.md (Framing) asks: one trailing "\r" is dropped.
// It reports ErrLineTooLong for more than maxLine bytes and ErrNeedMore for
// none.
func LastLine(buf []byte, maxLine int) (line []byte, err error) {
	if len(buf) == 0 {
		return nil, ErrNeedMore
	}
	if buf[len(buf)-1] == '\r' {
		buf = buf[:len(buf)-1]
	}
	if len(buf) > maxLine {
		return nil, ErrLineTooLong
	}
	return buf, nil
}

// AppendInvalid appends the reply to an invalid line: "? ", the line as
// received, "\n".
func AppendInvalid(dst, line []byte) []byte {
	dst = append(dst, '?', ' ')
	dst = append(dst, line...)
	return append(dst, '\n')
}

// IsSpace reports whether b is one of the six ASCII white-space bytes that
// separate fields: space, \t, \n, \v, \f, \r.
func IsSpace(b byte) bool {
	return b == ' ' || (b >= '\t' && b <= '\r')
}
