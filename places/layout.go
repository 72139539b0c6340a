package places

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// This file writes the legacy Nearby Search layout by appending, the way
// Google's own servers indent it: three spaces per level, `"key" : value`,
// keys in alphabetical order, arrays of strings on one line (`[ "a", "b" ]`),
// empty arrays as `[]`, and no trailing newline. The geonames and google-new
// backends share it, so their bodies look exactly like Google's.

// Result is one entry of the legacy `results` array. Only fields the
// backend really knows are written; empty strings and a false HasViewport
// leave their key out.
type Result struct {
	Lat, Lng float64
	// Viewport corners, [0] latitude and [1] longitude. When the viewport
	// crosses the antimeridian NE[1] < SW[1], as in Google's answers.
	NE, SW      [2]float64
	HasViewport bool

	BusinessStatus string
	Name           string
	PlaceIDPrefix  string // written right before PlaceID, e.g. "geonames:"
	PlaceID        string
	Types          []string
	Vicinity       string
}

// AppendBodyStart writes the opening brace, html_attributions and the
// opening of the results array. Follow it with AppendResult for each result
// and close with AppendBodyEnd.
func AppendBodyStart(dst []byte, attributions []string) []byte {
	dst = append(dst, "{\n   \"html_attributions\" : "...)
	dst = appendStringArray(dst, attributions)
	return append(dst, ",\n   \"results\" : ["...)
}

// AppendBodyEnd closes the results array (n results were written) and
// writes the status.
func AppendBodyEnd(dst []byte, n int, status string) []byte {
	if n > 0 {
		dst = append(dst, "\n   ]"...)
	} else {
		dst = append(dst, ']')
	}
	dst = append(dst, ",\n   \"status\" : "...)
	dst = appendJSONString(dst, status)
	return append(dst, "\n}"...)
}

// AppendResult writes r as the i-th element (0-based) of the results array.
func AppendResult(dst []byte, i int, r *Result) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, "\n      {\n"...)
	if r.BusinessStatus != "" {
		dst = append(dst, "         \"business_status\" : "...)
		dst = appendJSONString(dst, r.BusinessStatus)
		dst = append(dst, ",\n"...)
	}
	dst = append(dst, "         \"geometry\" : {\n            \"location\" : "...)
	dst = appendLatLng(dst, "            ", r.Lat, r.Lng)
	if r.HasViewport {
		dst = append(dst, ",\n            \"viewport\" : {\n               \"northeast\" : "...)
		dst = appendLatLng(dst, "               ", r.NE[0], r.NE[1])
		dst = append(dst, ",\n               \"southwest\" : "...)
		dst = appendLatLng(dst, "               ", r.SW[0], r.SW[1])
		dst = append(dst, "\n            }"...)
	}
	dst = append(dst, "\n         }"...)
	if r.Name != "" {
		dst = append(dst, ",\n         \"name\" : "...)
		dst = appendJSONString(dst, r.Name)
	}
	if r.PlaceID != "" {
		dst = append(dst, ",\n         \"place_id\" : \""...)
		dst = appendJSONStringContent(dst, r.PlaceIDPrefix)
		dst = appendJSONStringContent(dst, r.PlaceID)
		dst = append(dst, '"')
	}
	dst = append(dst, ",\n         \"types\" : "...)
	dst = appendStringArray(dst, r.Types)
	if r.Vicinity != "" {
		dst = append(dst, ",\n         \"vicinity\" : "...)
		dst = appendJSONString(dst, r.Vicinity)
	}
	return append(dst, "\n      }"...)
}

// appendLatLng writes {"lat" : .., "lng" : ..} with the closing brace at
// indent (the indentation of the line holding the key).
func appendLatLng(dst []byte, indent string, lat, lng float64) []byte {
	dst = append(dst, "{\n"...)
	dst = append(dst, indent...)
	dst = append(dst, "   \"lat\" : "...)
	dst = appendCoord(dst, lat)
	dst = append(dst, ",\n"...)
	dst = append(dst, indent...)
	dst = append(dst, "   \"lng\" : "...)
	dst = appendCoord(dst, lng)
	dst = append(dst, '\n')
	dst = append(dst, indent...)
	return append(dst, '}')
}

// appendCoord writes a coordinate with at most seven decimals (Google's
// precision, about 1 cm), without trailing zeros and never in exponent form.
func appendCoord(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, '0')
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, v, 'f', 7, 64)
	// Trim "34.0560000" to "34.056" and "12.0000000" to "12".
	for dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	if dst[len(dst)-1] == '.' {
		dst = dst[:len(dst)-1]
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}

// appendStringArray writes `[]` or `[ "a", "b" ]`.
func appendStringArray(dst []byte, a []string) []byte {
	if len(a) == 0 {
		return append(dst, "[]"...)
	}
	dst = append(dst, "[ "...)
	for i, s := range a {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, " ]"...)
}

// appendJSONString writes s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONStringContent(dst, s)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONStringContent writes s escaped for use between JSON quotes:
// `"` and `\` are escaped, control characters become \n, \t, ... or \u00XX,
// U+2028 and U+2029 are escaped (as encoding/json does), and invalid UTF-8
// becomes U+FFFD, so the output is always valid JSON and valid UTF-8.
func appendJSONStringContent(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
