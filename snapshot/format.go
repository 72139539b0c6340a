package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"strconv"
	"time"

	"github.com/herdnet/herd/codec"
)

// Version is the format version this package writes and the only one it reads.
const Version = 1

const (
	magic = "HERDSNAP"
	// countWidth and timeWidth keep the header's length independent of its
	// values, so Write can write it again, over itself, once the count is known.
	countWidth = 20
	timeWidth  = 20
	// maxLine bounds one line of a snapshot, header included: an AT line
	// holds a client line of up to limits.max_line (at most 1 MiB) plus the
	// origin's name and the skew.
	maxLine = 2 << 20
	// bufSize is the write buffer: large enough that the file sees few,
	// large writes; small next to the snapshot.
	bufSize = 256 << 10
)

// castagnoli is CRC32C, which amd64 (SSE 4.2) and arm64 compute in hardware.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is what the first line of a snapshot says.
type Header struct {
	Version int
	Node    string    // the node that wrote it
	Count   int       // entries in the body
	Written time.Time // when the writer started reading the cache
}

// Info describes a snapshot written or read.
type Info struct {
	Header
	Bytes int64 // size of the file
}

// Sentinels for a snapshot that is rejected, wrapped in a *FormatError.
var (
	ErrEmpty     = errors.New("snapshot: empty file")
	ErrMagic     = errors.New("snapshot: not a herd snapshot")
	ErrVersion   = errors.New("snapshot: unsupported format version")
	ErrHeader    = errors.New("snapshot: malformed header")
	ErrNode      = errors.New("snapshot: written by another node")
	ErrTruncated = errors.New("snapshot: truncated")
	ErrEntry     = errors.New("snapshot: invalid entry")
	ErrCount     = errors.New("snapshot: entry count mismatch")
	ErrChecksum  = errors.New("snapshot: checksum mismatch")
)

// FormatError says why a snapshot was rejected and where: it is torn,
// corrupted, or not this node's. Errors of the reader underneath are
// returned as they are, not as a FormatError.
type FormatError struct {
	Err    error  // one of the sentinels above
	Offset int64  // byte offset of the line at fault
	Detail string // what was found
}

func (e *FormatError) Error() string {
	s := e.Err.Error() + " at byte " + strconv.FormatInt(e.Offset, 10)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

// WriterAt is where Write streams a snapshot: an *os.File, or any writer
// that can also rewrite its first bytes.
type WriterAt interface {
	io.Writer
	io.WriterAt
}

// Write streams a snapshot of node's entries to w, which must be empty:
// every line lines yields (an AT line without "\n", exactly as the cache
// holds it), in that order. written is the time recorded in the header. The
// header is written first with a zero count and written again, at offset 0,
// once the body is done; the body goes through a bufio.Writer, so the cost
// to the caller's goroutine is one pass over the lines plus CRC32C. Write
// does not sync w.
func Write(w WriterAt, node string, written time.Time, lines iter.Seq[[]byte]) (Info, error) {
	info := Info{Header: Header{Version: Version, Node: node, Written: written}}
	hdr := appendHeader(nil, info.Header)
	if _, err := w.Write(hdr); err != nil {
		return info, err
	}
	cw := &crcWriter{w: w}
	bw := bufio.NewWriterSize(cw, bufSize)
	n := 0
	for line := range lines {
		bw.Write(line) // a write error sticks in bw and is returned by Flush
		bw.WriteByte('\n')
		n++
	}
	if err := bw.Flush(); err != nil {
		return info, err
	}
	trailer := appendTrailer(nil, n, cw.crc)
	if _, err := w.Write(trailer); err != nil {
		return info, err
	}
	info.Count = n
	if _, err := w.WriteAt(appendHeader(hdr[:0], info.Header), 0); err != nil {
		return info, err
	}
	info.Bytes = int64(len(hdr)) + cw.n + int64(len(trailer))
	return info, nil
}

// crcWriter computes CRC32C over what goes through it, in the large chunks
// that bufio hands it.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// appendHeader appends the header line:
//
//	HERDSNAP 1 NODE COUNT WRITTEN HCRC\n
//
// COUNT is zero-padded to 20 digits, WRITTEN is Unix nanoseconds padded to
// 20 digits, HCRC is the CRC32C of everything before it on the line, as 8
// lower-case hex digits.
func appendHeader(dst []byte, h Header) []byte {
	p := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(h.Version), 10)
	dst = append(dst, ' ')
	dst = append(dst, h.Node...)
	dst = append(dst, ' ')
	dst = appendPadded(dst, int64(h.Count), countWidth)
	dst = append(dst, ' ')
	dst = appendPadded(dst, h.Written.UnixNano(), timeWidth)
	dst = append(dst, ' ')
	dst = appendHex(dst, crc32.Checksum(dst[p:], castagnoli))
	return append(dst, '\n')
}

// appendTrailer appends the last line, "END COUNT CRC\n": the entry count
// and the CRC32C of the body (every entry line with its "\n").
func appendTrailer(dst []byte, count int, crc uint32) []byte {
	dst = append(dst, "END "...)
	dst = strconv.AppendInt(dst, int64(count), 10)
	dst = append(dst, ' ')
	dst = appendHex(dst, crc)
	return append(dst, '\n')
}

// appendPadded appends v, at least 0, zero-padded to width digits.
func appendPadded(dst []byte, v int64, width int) []byte {
	v = max(v, 0)
	var b [24]byte
	s := strconv.AppendInt(b[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

func appendHex(dst []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(v>>uint(shift))&0xf])
	}
	return dst
}

// Read reads a snapshot from r and checks it as it goes: the header (magic,
// version, its own checksum, node, which must be node), every entry (it must
// parse with codec.Parse as an AT line and be in canonical form), the
// trailer (the count in the header, the trailer and the body must agree,
// and the body's CRC32C must match) and that nothing follows the trailer.
//
// apply is called for every entry, in file order, with the parsed command
// and the line without "\n" (both valid only during the call). Entries are
// applied before the trailer is checked: when Read returns an error, some
// may have been applied already, so apply into a fresh cache and drop it on
// error, as Store.Restore does.
//
// A snapshot that is rejected yields a *FormatError; an error of r is
// returned as it is.
func Read(r io.Reader, node string, apply func(cmd *codec.Command, line []byte)) (Info, error) {
	br := bufio.NewReaderSize(r, maxLine)
	var info Info
	var off int64
	fail := func(sentinel error, detail string) (Info, error) {
		return info, &FormatError{Err: sentinel, Offset: off, Detail: detail}
	}

	line, err := br.ReadSlice('\n')
	switch {
	case err == io.EOF && len(line) == 0:
		return fail(ErrEmpty, "")
	case err == io.EOF:
		return fail(ErrTruncated, "header line has no newline: "+quote(line))
	case err == bufio.ErrBufferFull:
		return fail(ErrHeader, "header line too long")
	case err != nil:
		return info, err
	}
	h, herr := parseHeader(line[:len(line)-1])
	if herr != nil {
		return fail(herr, quote(line))
	}
	info.Header = h
	if h.Node != node {
		return fail(ErrNode, fmt.Sprintf("written by %q, this node is %q", h.Node, node))
	}
	off += int64(len(line))

	var cmd codec.Command
	var canon []byte
	var crc uint32
	n := 0
	for {
		line, err = br.ReadSlice('\n')
		switch {
		case err == io.EOF:
			return fail(ErrTruncated, fmt.Sprintf("no trailer after %d entries", n))
		case err == bufio.ErrBufferFull:
			return fail(ErrEntry, fmt.Sprintf("line longer than %d bytes", maxLine))
		case err != nil:
			return info, err
		}
		if bytes.HasPrefix(line, []byte("END ")) {
			break
		}
		body := line[:len(line)-1]
		if perr := codec.Parse(body, &cmd); perr != nil || cmd.Kind != codec.KindAT {
			if perr == nil {
				perr = errors.New("not an AT line")
			}
			return fail(ErrEntry, perr.Error()+": "+quote(body))
		}
		canon = codec.AppendUpdate(canon[:0], &cmd)
		if !bytes.Equal(canon, body) {
			return fail(ErrEntry, "not in canonical form: "+quote(body))
		}
		if n++; n > h.Count {
			return fail(ErrCount, fmt.Sprintf("more entries than the %d the header announces", h.Count))
		}
		crc = crc32.Update(crc, castagnoli, line)
		apply(&cmd, body)
		off += int64(len(line))
	}

	count, sum, ok := parseTrailer(line[:len(line)-1])
	switch {
	case !ok:
		return fail(ErrTruncated, "malformed trailer: "+quote(line))
	case count != h.Count || n != h.Count:
		return fail(ErrCount, fmt.Sprintf("header says %d, trailer %d, body holds %d", h.Count, count, n))
	case sum != crc:
		return fail(ErrChecksum, fmt.Sprintf("trailer says %08x, body has %08x", sum, crc))
	}
	off += int64(len(line))
	if _, err := br.ReadByte(); err != io.EOF {
		if err != nil {
			return info, err
		}
		return fail(ErrEntry, "bytes after the trailer")
	}
	info.Bytes = off
	return info, nil
}

// parseHeader parses the header line without its "\n".
func parseHeader(line []byte) (Header, error) {
	var h Header
	f := bytes.Split(line, []byte(" "))
	if len(f) == 0 || string(f[0]) != magic {
		return h, ErrMagic
	}
	if len(f) < 2 {
		return h, ErrHeader
	}
	v, err := strconv.Atoi(string(f[1]))
	if err != nil || v < 0 {
		return h, ErrHeader
	}
	if v != Version {
		return h, fmt.Errorf("%w %d (this binary reads version %d)", ErrVersion, v, Version)
	}
	if len(f) != 6 || len(f[3]) != countWidth || len(f[4]) != timeWidth || len(f[5]) != 8 {
		return h, ErrHeader
	}
	if string(appendHex(nil, crc32.Checksum(line[:len(line)-8], castagnoli))) != string(f[5]) {
		return h, fmt.Errorf("%w (header checksum)", ErrChecksum)
	}
	count, ok1 := parseDigits(f[3])
	nanos, ok2 := parseDigits(f[4])
	if !ok1 || !ok2 || len(f[2]) == 0 {
		return h, ErrHeader
	}
	return Header{Version: v, Node: string(f[2]), Count: int(count), Written: time.Unix(0, nanos)}, nil
}

// parseDigits parses a non-negative decimal of digits only (zero-padding
// allowed) that fits an int64.
func parseDigits(b []byte) (int64, bool) {
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

// parseTrailer parses "END COUNT CRC" (without "\n").
func parseTrailer(line []byte) (count int, sum uint32, ok bool) {
	f := bytes.Split(line, []byte(" "))
	if len(f) != 3 || string(f[0]) != "END" || len(f[2]) != 8 {
		return 0, 0, false
	}
	c, err := strconv.Atoi(string(f[1]))
	if err != nil || c < 0 || strconv.Itoa(c) != string(f[1]) {
		return 0, 0, false
	}
	s, err := strconv.ParseUint(string(f[2]), 16, 32)
	if err != nil || string(appendHex(nil, uint32(s))) != string(f[2]) { // lower-case hex only
		return 0, 0, false
	}
	return c, uint32(s), true
}

// quote quotes the first bytes of b for an error message.
func quote(b []byte) string {
	if len(b) > 80 {
		return strconv.Quote(string(b[:80])) + "..."
	}
	return strconv.Quote(string(b))
}
