package load

import (
	"bytes"
	"fmt"

	"github.com/herdnet/herd/codec"
)

// ReplyError is a reply that does not answer its request.
type ReplyError struct {
	Request string // the request line, cut to 120 bytes
	Reply   string // the offending reply line, cut to 120 bytes
	Reason  string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("load: %s: request %q, reply %q", e.Reason, e.Request, e.Reply)
}

func snippet(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// expect checks the reply lines to one request. set it for each request,
// then feed it reply lines (without terminators) until it says done.
type expect struct {
	kind   reqKind
	line   []byte // the request without its terminator; aliases the caller's buffer
	req    codec.Command
	rep    codec.Command
	inBody bool // WHATSAT: the AT line was good, JSON lines follow
}

// set prepares e for the reply to request req (terminator included or not).
func (e *expect) set(kind reqKind, req []byte) {
	req = bytes.TrimRight(req, "\r\n")
	e.kind, e.line, e.inBody = kind, req, false
	if kind == reqWHATSAT {
		// Our own requests always parse; a failure shows up as a mismatch.
		_ = codec.Parse(req, &e.req)
	}
}

func (e *expect) fail(reply []byte, reason string) (bool, error) {
	return true, &ReplyError{Request: snippet(e.line), Reply: snippet(reply), Reason: reason}
}

// feed checks one reply line. done means the reply is complete (or, with
// an error, abandoned: the next line belongs to the next request).
func (e *expect) feed(line []byte) (done bool, err error) {
	switch e.kind {
	case reqEcho:
		if !bytes.Equal(line, e.line) {
			return e.fail(line, "echo differs")
		}
		return true, nil
	case reqRedis:
		if len(line) == 2 && line[0] == ':' && (line[1] == '0' || line[1] == '1') {
			return true, nil
		}
		return e.fail(line, "want :1 or :0")
	case reqInvalid:
		if len(line) != len(e.line)+2 || line[0] != '?' || line[1] != ' ' || !bytes.Equal(line[2:], e.line) {
			return e.fail(line, `want "? " and the line`)
		}
		return true, nil
	case reqWHATSAT:
		if e.inBody {
			return len(line) == 0, nil
		}
		if err := codec.Parse(line, &e.rep); err != nil || e.rep.Kind != codec.KindAT {
			return e.fail(line, "want an AT line opening the WHATSAT reply")
		}
		if !bytes.Equal(e.rep.ClientID, e.req.ClientID) {
			return e.fail(line, "WHATSAT reply is for another client")
		}
		e.inBody = true
		return false, nil
	}
	return e.feedIAMAT(line)
}

// feedIAMAT checks the reply to an IAMAT: an AT line with the request's
// client id, location and time. The generator shares the server's cores,
// and whatever it spends per reply is taken from the server, so a reply
// in the canonical form (single spaces, as the generator writes requests
// and Herd writes AT lines) is checked by comparing bytes: "AT ", a
// server name, a skew ([+-]sec.frac), and the request's three fields byte
// for byte. Anything else gets the full check: codec.Parse of the reply
// and a comparison of its fields, which also names what is wrong.
func (e *expect) feedIAMAT(line []byte) (bool, error) {
	if canonicalAT(line, e.line[len("IAMAT "):]) {
		return true, nil
	}
	if err := codec.Parse(e.line, &e.req); err != nil || e.req.Kind != codec.KindIAMAT {
		return e.fail(line, "request is not an IAMAT")
	}
	if err := codec.Parse(line, &e.rep); err != nil || e.rep.Kind != codec.KindAT {
		return e.fail(line, "want an AT line")
	}
	switch {
	case !bytes.Equal(e.rep.ClientID, e.req.ClientID):
		return e.fail(line, "AT line has another client id")
	case !bytes.Equal(e.rep.Location, e.req.Location):
		return e.fail(line, "AT line has another location")
	case !bytes.Equal(e.rep.Time, e.req.Time):
		return e.fail(line, "AT line has another time")
	}
	return true, nil
}

// canonicalAT reports whether line is "AT NAME [+-]SEC.FRAC " followed by
// fields (an IAMAT's client id, location and time), single-spaced.
func canonicalAT(line, fields []byte) bool {
	if !bytes.HasPrefix(line, []byte("AT ")) || len(line) < len("AT ")+len(fields)+1 {
		return false
	}
	tail := len(line) - len(fields)
	if line[tail-1] != ' ' || !bytes.Equal(line[tail:], fields) {
		return false
	}
	head := line[len("AT ") : tail-1] // server name, skew
	sp := bytes.IndexByte(head, ' ')
	if sp <= 0 {
		return false
	}
	for _, c := range head[:sp] {
		if codec.IsSpace(c) { // another separator: not the canonical form
			return false
		}
	}
	return canonicalSkew(head[sp+1:])
}

// canonicalSkew reports whether b is a skew as the protocol writes it:
// a sign, digits, a point and digits ([+-]D+.D+), nothing else.
func canonicalSkew(b []byte) bool {
	if len(b) < 4 || (b[0] != '+' && b[0] != '-') {
		return false
	}
	dot := bytes.IndexByte(b, '.')
	if dot < 2 || dot == len(b)-1 {
		return false
	}
	for i, c := range b[1:] {
		if i+1 != dot && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
