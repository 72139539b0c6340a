// Package codec turns bytes into herd commands and herd replies into bytes.
//
// It frames lines (NextLine), parses IAMAT, WHATSAT, AT and the peer
// handshake in place (Parse), and encodes AT lines, skews and "? line" error
// replies by appending to a caller's buffer (AppendAT,
// AppendInvalid). Nothing here allocates or does I/O, and every slice a
// Command holds points into the caller's line: it lives exactly as long as
// that buffer does. Copy what must outlive it (the cache does, once).
//
// The grammar is docs/PROTOCOL.md's; a choice the protocol leaves open is
// documented next to the code that makes it and in that document.
package codec
