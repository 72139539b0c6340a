package google

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendCutBody(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		want  string
	}{
		{`{"results":[1,2,3]}`, 2, `{"results":[1,2]}`},
		{`{"results":[1,2,3]}`, 3, `{"results":[1,2,3]}`},
		{`{"results":[1,2,3]}`, 5, `{"results":[1,2,3]}`},
		{`{"results":[]}`, 1, `{"results":[]}`},
		{`{"a":{"results":[1,2]},"results":[{"x":"]}"},{"y":[{}]},3],"z":"\"results\""}`, 1,
			`{"a":{"results":[1,2]},"results":[{"x":"]}"}],"z":"\"results\""}`},
		{`{"k\"results":[1,2],"results" : [ "a\\" , "b" ] }`, 1, `{"k\"results":[1,2],"results" : [ "a\\" ] }`},
		{"{\n\n\"results\" : [\n1,\n\n2\n]\n}\n\n", 1, "{\n\"results\" : [\n1\n]\n}"},
	}
	for _, c := range cases {
		got, err := appendCutBody([]byte("p"), []byte(c.in), c.limit)
		if err != nil || string(got) != "p"+c.want {
			t.Errorf("%q limit %d: %q, %v", c.in, c.limit, got, err)
		}
	}
	for _, bad := range []string{
		"", "[]", `{"results":1}`, `{"status":"OK"}`, `{"results":[1,2`, `{"results":[1 2]}`,
		`{"results":[,1]}`, `{"x":"unterminated`, `{"results":["a]`, `{results:[]}`,
	} {
		if _, err := appendCutBody(nil, []byte(bad), 1); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzAppendCutBody(f *testing.F) {
	f.Add([]byte(legacyBodyText(3, "tok", "\n")), 2)
	f.Add([]byte(`{"results":[{"a":"]"},[],"\"",{}]}`), 1)
	f.Add([]byte(`{"x":[1,{"results":[]}],"results":[1e5,true,null]}`), 2)
	f.Fuzz(func(t *testing.T, body []byte, limit int) {
		if limit < 1 || limit > 20 {
			return
		}
		out, err := appendCutBody(nil, body, limit)
		var in map[string]json.RawMessage
		if json.Unmarshal(body, &in) != nil {
			return
		}
		var arr []json.RawMessage
		if json.Unmarshal(in["results"], &arr) != nil || strings.Contains(string(body), `\"results`) {
			return
		}
		if err != nil {
			// Valid JSON whose top-level key is spelled with escapes is the
			// only legitimate miss.
			if !strings.Contains(string(body), `\u`) {
				t.Fatalf("valid body rejected: %v\n%s", err, body)
			}
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output not JSON: %v\n%s", err, out)
		}
		var garr []json.RawMessage
		json.Unmarshal(got["results"], &garr)
		if len(garr) != min(limit, len(arr)) {
			t.Fatalf("%d results, want %d\n%s", len(garr), min(limit, len(arr)), out)
		}
	})
}
