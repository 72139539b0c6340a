package google

import (
	"errors"

	"github.com/herdnet/herd/places"
)

// errMalformed reports a Google body that is not the JSON object we expect.
var errMalformed = errors.New("places: malformed JSON body")

// appendCutBody appends body to dst with the top-level "results" array cut
// to at most limit elements, then collapses runs of newlines to one and drops
// trailing newlines. Everything else stays byte for byte as the server wrote
// it: the cut removes exactly the bytes from the end of element limit to
// the end of the last element, so the array's closing indentation is the
// server's own. The body is scanned, never re-serialized; the scanner honours
// strings, escapes and nesting, and rejects a body without a top-level
// object holding a "results" array.
func appendCutBody(dst, body []byte, limit int) ([]byte, error) {
	cutFrom, cutTo, err := resultsCut(body, limit)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, body[:cutFrom]...)
	dst = append(dst, body[cutTo:]...)
	return append(dst[:start], places.CollapseNewlines(dst[start:])...), nil
}

// resultsCut finds the byte range to remove from body so that its top-level
// "results" array keeps at most limit elements. An empty range (from == to)
// means nothing needs cutting.
func resultsCut(body []byte, limit int) (from, to int, err error) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return 0, 0, errMalformed
	}
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) {
			return 0, 0, errMalformed
		}
		if body[i] == '}' {
			return 0, 0, errors.New("places: no results array in body")
		}
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		keyStart := i
		if i, err = skipString(body, i); err != nil {
			return 0, 0, err
		}
		key := body[keyStart:i]
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != ':' {
			return 0, 0, errMalformed
		}
		i = skipSpace(body, i+1)
		if string(key) == `"results"` {
			return arrayCut(body, i, limit)
		}
		if i, err = skipValue(body, i); err != nil {
			return 0, 0, err
		}
	}
}

// arrayCut scans the array starting at body[i] and returns the range from
// the end of element limit to the end of the last element.
func arrayCut(body []byte, i, limit int) (from, to int, err error) {
	if i >= len(body) || body[i] != '[' {
		return 0, 0, errMalformed
	}
	i++
	n := 0
	for {
		i = skipSpace(body, i)
		if i >= len(body) {
			return 0, 0, errMalformed
		}
		switch body[i] {
		case ']':
			if from == 0 {
				from = i // fewer elements than limit: nothing to cut
				to = i
			}
			return from, to, nil
		case ',':
			if n == 0 {
				return 0, 0, errMalformed
			}
			i = skipSpace(body, i+1)
		default:
			if n > 0 {
				return 0, 0, errMalformed
			}
		}
		if i, err = skipValue(body, i); err != nil {
			return 0, 0, err
		}
		n++
		if n == limit {
			from = i
		}
		to = i
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at b[i].
func skipString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errMalformed
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte; \uXXXX's digits need no care
		case '"':
			return i + 1, nil
		}
	}
	return 0, errMalformed
}

// skipValue returns the index just past the JSON value starting at b[i]:
// a string, an object or array (nesting and strings inside honoured), or a
// number or literal.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errMalformed
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				var err error
				if i, err = skipString(b, i); err != nil {
					return 0, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errMalformed
	case ',', ':', '}', ']':
		return 0, errMalformed
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i, nil
		}
		i++
	}
	if i == start {
		return 0, errMalformed
	}
	return i, nil
}
