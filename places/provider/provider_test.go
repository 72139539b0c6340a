package provider

import (
	"testing"

	"github.com/herdnet/herd/places"
)

func TestNew(t *testing.T) {
	t.Setenv(places.KeyEnv, "")
	if _, err := New(places.Config{Backend: "bing"}); err == nil {
		t.Error("unknown backend: no error")
	}
	if _, err := New(places.Config{Backend: places.BackendGoogle}); err == nil {
		t.Error("google without key: no error")
	}
	if _, err := New(places.Config{Backend: places.BackendGoogleNew, Timeout: -1}); err == nil {
		t.Error("negative timeout: no error")
	}
	t.Setenv(places.KeyEnv, "env-key")
	for _, b := range []string{places.BackendGoogle, places.BackendGoogleNew} {
		p, err := New(places.Config{Backend: b})
		if err != nil || p.Name() != b {
			t.Errorf("%s: %v %v", b, p, err)
		}
	}
	if places.DefaultConfig().Backend != places.BackendGeonames {
		t.Error("default backend is not geonames")
	}
}
