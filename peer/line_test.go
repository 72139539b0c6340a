package peer

import (
	"strings"
	"testing"
)

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string // nil: too many
	}{
		{"", []string{}},
		{"PING", []string{"PING"}},
		{"SYNC 17 1000 ff", []string{"SYNC", "17", "1000", "ff"}},
		{"  WANT   8 ", []string{"WANT", "8"}},
		{"PEER a b c d", nil},
	} {
		var f [maxFields][]byte
		n := fields([]byte(tc.line), &f)
		if tc.want == nil {
			if n != -1 {
				t.Errorf("%q: %d fields, want -1", tc.line, n)
			}
			continue
		}
		got := make([]string, max(n, 0))
		for i := range got {
			got[i] = string(f[i])
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || n != len(tc.want) {
			t.Errorf("%q: %q, want %q", tc.line, got, tc.want)
		}
	}
}
