package codec

// Exported for the tests: the byte-by-byte path alone, to check the fast
// IAMAT path against it and to measure what the fast path saves.
var (
	ParseGeneral   = parseGeneral
	ParseIAMATFast = parseIAMATFast
)

// AppendPeer appends the open peer handshake line, "PEER name\n" (the
// peer package writes its own, with or without a nonce).
func AppendPeer(dst []byte, name string) []byte {
	dst = append(dst, "PEER "...)
	dst = append(dst, name...)
	return append(dst, '\n')
}

// AppendSkew is appendSkew, for the tests and benchmarks.
var AppendSkew = appendSkew
