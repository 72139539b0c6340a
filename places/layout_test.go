package places

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/herdnet/herd/places/internal/placestest"
)

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnl\ncr\r\x00\x01\x1f\x7f",
		"caf\u00e9 \u6771\u4eac \U0001F602", "line\u2028sep\u2029", "bad \xff\xfe utf8", "<a href=\"x\">&</a>",
	} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q -> %s: %v", s, b, err)
			continue
		}
		// encoding/json replaces each invalid byte by U+FFFD, as we do.
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if got != want {
			t.Errorf("%q -> %s -> %q", s, b, got)
		}
		if strings.ContainsAny(string(b), "\n\r\u2028") {
			t.Errorf("raw line break in %q", b)
		}
	}
}

func TestAppendCoord(t *testing.T) {
	for v, want := range map[float64]string{
		34.06893: "34.06893", -118.445127: "-118.445127", 12: "12", 0: "0",
		-0.00000001: "0", 1e-7: "0.0000001", 34.07132721: "34.0713272", -180: "-180",
	} {
		if got := string(appendCoord(nil, v)); got != want {
			t.Errorf("%v: %s, want %s", v, got, want)
		}
	}
}

func TestAppendErrorBody(t *testing.T) {
	err := &Error{Status: StatusOverQueryLimit, Message: "quota \"exceeded\"\n\x01 \xff"}
	b := AppendErrorBody([]byte("AT\n"), err)
	want := "AT\n{\n   \"error_message\" : \"quota \\\"exceeded\\\"\\n\\u0001 \\ufffd\",\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"OVER_QUERY_LIMIT\"\n}"
	if string(b) != want {
		t.Errorf("got\n%s", b)
	}
	lb := placestest.DecodeBody(t, b[3:])
	if lb.Status != StatusOverQueryLimit {
		t.Errorf("%+v", lb)
	}
	if st, _ := StatusOf(errors.New("x")); st != StatusUnknownError {
		t.Error(st)
	}
}

func TestCollapseNewlines(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"\n\n":              "",
		"{\n\n\n  a\n}\n\n": "{\n  a\n}",
		"\n{\n}":            "{\n}",
		"a\nb":              "a\nb",
	} {
		if got := string(CollapseNewlines([]byte(in))); got != want {
			t.Errorf("CollapseNewlines(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigWithDefaults(t *testing.T) {
	t.Setenv(KeyEnv, "env-key")
	c := Config{Backend: BackendGoogleNew}.WithDefaults()
	if c.BaseURL != DefaultGoogleNewBaseURL || c.Key != "env-key" || c.Timeout <= 0 || c.MaxConns <= 0 {
		t.Errorf("%+v", c)
	}
	if c := (Config{}).WithDefaults(); c.Backend != BackendGeonames || c.BaseURL != "" {
		t.Errorf("%+v", c)
	}
}
