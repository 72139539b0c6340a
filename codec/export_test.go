package codec

// Exported for the tests: the byte-by-byte path alone, to check the fast
// IAMAT path against it and to measure what the fast path saves.
var (
	ParseGeneral   = parseGeneral
	ParseIAMATFast = parseIAMATFast
)
