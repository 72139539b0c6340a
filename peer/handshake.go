package peer

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/herdnet/herd/codec"
)

// The link handshake (docs/PROTOCOL.md, "The handshake"). The dialer D opens,
// the acceptor A answers:
//
//	no secret:   D: PEER d            A: PEER a
//	with secret: D: PEER d nD         A: PEER a nA macA
//	             D: AUTH macD         A: AUTH ok
//
// nD and nA are fresh 16-byte random nonces in hex; macA and macD are
// HMAC-SHA256 under the herd secret, in hex, over the role, both names and
// both nonces, so the secret never crosses the wire, each side proves it
// knows it, and a recorded handshake is useless against a fresh nonce. A
// refusal is "? " and the offending line, then the connection closes.

var (
	// ErrAuth means the other side does not know the herd secret (or sent
	// a MAC that does not match this handshake's nonces).
	ErrAuth = errors.New("peer: authentication failed (wrong herd secret?)")
	// ErrRefused means the other side refused our handshake.
	ErrRefused = errors.New("peer: neighbour refused the handshake")
	// ErrHandshake means a handshake line was malformed or named the wrong node.
	ErrHandshake = errors.New("peer: bad handshake")
)

func newNonce() string {
	var b [codec.NonceLen / 2]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mac is the proof of the side role ("accept" or "dial") for the link
// dialer -> acceptor with the nonces nD, nA.
func mac(secret []byte, role, dialer, acceptor, nD, nA string) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "herd-link %s\n%s\n%s\n%s\n%s\n", role, dialer, acceptor, nD, nA)
	return hex.EncodeToString(m.Sum(nil))
}

func refuse(w *bufio.Writer, line []byte) {
	_ = writeLine(w, "? "+string(line))
}

// dialHandshake runs the dialer's side with the neighbour it expects, want.
func (ls *Links) dialHandshake(r *bufio.Reader, w *bufio.Writer, want string) error {
	self, secret := ls.cfg.Name, ls.cfg.Secret
	if len(secret) == 0 {
		if err := writeLine(w, "PEER", self); err != nil {
			return err
		}
		line, err := readShortLine(r)
		if err != nil {
			return err
		}
		if bytes.HasPrefix(line, []byte("? ")) {
			return fmt.Errorf("%w: %q", ErrRefused, line)
		}
		var f [maxFields][]byte
		if n := fields(line, &f); n != 2 || string(f[0]) != "PEER" || string(f[1]) != want {
			return fmt.Errorf("%w: want %q, got %q", ErrHandshake, "PEER "+want, line)
		}
		return nil
	}
	nD := newNonce()
	if err := writeLine(w, "PEER", self, nD); err != nil {
		return err
	}
	line, err := readShortLine(r)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(line, []byte("? ")) {
		return fmt.Errorf("%w: %q", ErrRefused, line)
	}
	var f [maxFields][]byte
	if n := fields(line, &f); n != 4 || string(f[0]) != "PEER" || string(f[1]) != want || len(f[2]) != codec.NonceLen {
		return fmt.Errorf("%w: want %q, got %q", ErrHandshake, "PEER "+want+" nonce mac", line)
	}
	nA := string(f[2])
	if !hmac.Equal(f[3], []byte(mac(secret, "accept", self, want, nD, nA))) {
		refuse(w, line) // so the acceptor logs the failure too
		return ErrAuth
	}
	if err := writeLine(w, "AUTH", mac(secret, "dial", self, want, nD, nA)); err != nil {
		return err
	}
	if line, err = readShortLine(r); err != nil {
		return err
	}
	if string(line) != "AUTH ok" {
		if bytes.HasPrefix(line, []byte("? ")) {
			return fmt.Errorf("%w: %q", ErrRefused, line)
		}
		return fmt.Errorf("%w: want %q, got %q", ErrHandshake, "AUTH ok", line)
	}
	return nil
}

// acceptHandshake runs the acceptor's side and returns the neighbour's
// name. certOK, when not nil, checks that the TLS certificate of the
// connection names the node the dialer claims to be.
func (ls *Links) acceptHandshake(r *bufio.Reader, w *bufio.Writer, certOK func(name string) error) (string, error) {
	self, secret := ls.cfg.Name, ls.cfg.Secret
	line, err := readShortLine(r)
	if err != nil {
		return "", err
	}
	var cmd codec.Command
	if codec.Parse(line, &cmd) != nil || cmd.Kind != codec.KindPeer {
		refuse(w, line)
		return "", fmt.Errorf("%w: %q", ErrHandshake, line)
	}
	name := string(cmd.Origin)
	if !ls.isNeighbor(name) {
		refuse(w, line)
		return name, fmt.Errorf("%w: %q is not a neighbour", ErrNotNeighbor, name)
	}
	if certOK != nil {
		if err := certOK(name); err != nil {
			refuse(w, line)
			return name, err
		}
	}
	if (len(secret) > 0) != (cmd.Nonce != nil) {
		refuse(w, line)
		if len(secret) > 0 {
			return name, fmt.Errorf("%w: the neighbour has no herd secret", ErrAuth)
		}
		return name, fmt.Errorf("%w: the neighbour has a herd secret, this node none", ErrAuth)
	}
	if len(secret) == 0 {
		return name, writeLine(w, "PEER", self)
	}
	nD, nA := string(cmd.Nonce), newNonce()
	if err := writeLine(w, "PEER", self, nA, mac(secret, "accept", name, self, nD, nA)); err != nil {
		return name, err
	}
	if line, err = readShortLine(r); err != nil {
		return name, err
	}
	if bytes.HasPrefix(line, []byte("? ")) {
		return name, fmt.Errorf("%w: the neighbour refused this node's proof", ErrAuth)
	}
	var f [maxFields][]byte
	if n := fields(line, &f); n != 2 || string(f[0]) != "AUTH" || !hmac.Equal(f[1], []byte(mac(secret, "dial", name, self, nD, nA))) {
		refuse(w, line)
		return name, ErrAuth
	}
	return name, writeLine(w, "AUTH", "ok")
}

// deadlineWriter bounds every write by peers.timeout, so a neighbour that
// stops reading breaks the link instead of stalling it forever.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration // peers.timeout
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.c.Write(p)
}
