package config

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// FieldError names the setting that is wrong.
type FieldError struct {
	Field string // e.g. "nodes[2].listen"
	Msg   string
}

func (e *FieldError) Error() string { return "config: " + e.Field + ": " + e.Msg }

// Load reads, parses and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Default returns the embedded default herd, validated.
func Default() *Config {
	c, err := Parse(DefaultYAML)
	if err != nil {
		panic("config: embedded default config is invalid: " + err.Error())
	}
	return c
}

// Parse parses YAML (unknown fields are errors), fills in defaults and
// validates the result.
func Parse(data []byte) (*Config, error) {
	if f, err := parser.ParseBytes(data, 0); err == nil {
		docs := 0
		for _, d := range f.Docs {
			if d.Body != nil {
				docs++
			}
		}
		if docs > 1 {
			return nil, fmt.Errorf("config: %d YAML documents (separated by ---): a herd config is one document", docs)
		}
	}
	var c Config
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.DisallowUnknownField()); err != nil {
		if err := retired(data); err != nil {
			return nil, err
		}
		if field := badDuration(data); field != nil {
			return nil, field
		}
		return nil, fmt.Errorf("config: %s", yaml.FormatError(err, false, true))
	}
	c.defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// retiredKeys explain settings that no longer exist.
var retiredKeys = map[string]string{
	"peers.queue": "no longer exists: a link keeps the clients it has still to send in a set " +
		"bounded by the number of clients and sends each one's newest line, so no update is " +
		"dropped and there is nothing to size; remove the key",
}

// retired names the first retired setting data sets, if any, and says why
// it went.
func retired(data []byte) error {
	for _, key := range slices.Sorted(maps.Keys(retiredKeys)) {
		p, err := yaml.PathString("$." + key)
		if err != nil {
			continue
		}
		var v any
		if p.Read(bytes.NewReader(data), &v) == nil {
			return &FieldError{key, retiredKeys[key]}
		}
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// badDuration names the duration setting that does not parse, if any (the
// YAML decoder's own error does not say which one).
func badDuration(data []byte) error {
	var bad error
	eachKey("", reflect.ValueOf(Config{}), func(key string, v reflect.Value) {
		if bad != nil || v.Type() != durationType {
			return
		}
		p, err := yaml.PathString("$." + key)
		if err != nil {
			return
		}
		var s string
		if p.Read(bytes.NewReader(data), &s) != nil || s == "" {
			return
		}
		if _, err := time.ParseDuration(s); err != nil {
			bad = &FieldError{key, fmt.Sprintf("%q is not a duration (e.g. 50ms, 2s)", s)}
		}
	})
	return bad
}

// eachKey calls f with every setting of the struct v, named by its key in
// the file ("limits.max_line"; prefix is v's own key, "" for the file),
// descending into sections and inline structs; lists (nodes) are skipped.
func eachKey(prefix string, v reflect.Value, f func(key string, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		fv := v.Field(i)
		switch {
		case !sf.IsExported() || name == "-":
		case opts == "inline":
			eachKey(prefix, fv, f)
		case fv.Kind() == reflect.Slice:
		case fv.Kind() == reflect.Struct && fv.Type() != durationType:
			eachKey(join(prefix, name), fv, f)
		default:
			f(join(prefix, name), fv)
		}
	}
}

// secret reports whether the setting called key holds a credential, whose
// value is never shown.
func secret(key string) bool {
	return strings.HasSuffix(key, "secret") || strings.HasSuffix(key, "token") || strings.HasSuffix(key, ".key")
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Changes lists the settings of section (a section of the file, or a
// value of the same type inside one) that differ between old and new, as
// "key old -> new", the key prefixed with prefix. Secrets are not shown.
func Changes(prefix string, old, new any) []string {
	var out []string
	ov := reflect.ValueOf(old)
	nv := reflect.ValueOf(new)
	if ov.Type() != nv.Type() || ov.Kind() != reflect.Struct {
		panic("config: Changes needs two structs of one type")
	}
	var olds []reflect.Value
	eachKey("", ov, func(_ string, v reflect.Value) { olds = append(olds, v) })
	i := 0
	eachKey(prefix, nv, func(key string, v reflect.Value) {
		o := olds[i]
		i++
		if o.Equal(v) {
			return
		}
		if secret(key) {
			out = append(out, key+" changed")
			return
		}
		out = append(out, fmt.Sprintf("%s %v -> %v", key, o, v))
	})
	return out
}
