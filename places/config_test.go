package places

import "testing"

func TestNew(t *testing.T) {
	t.Setenv(KeyEnv, "")
	if _, err := New(Config{Backend: "bing"}); err == nil {
		t.Error("unknown backend: no error")
	}
	if _, err := New(Config{Backend: BackendGoogle}); err == nil {
		t.Error("google without key: no error")
	}
	if _, err := New(Config{Backend: BackendGoogleNew, Timeout: -1}); err == nil {
		t.Error("negative timeout: no error")
	}
	t.Setenv(KeyEnv, "env-key")
	for _, b := range []string{BackendGoogle, BackendGoogleNew} {
		p, err := New(Config{Backend: b})
		if err != nil || p.Name() != b {
			t.Errorf("%s: %v %v", b, p, err)
		}
	}
	if p, _ := New(Config{Backend: BackendGoogleNew}); p.(*GoogleNew).ep.origin != DefaultGoogleNewBaseURL {
		t.Errorf("google-new origin %s", p.(*GoogleNew).ep.origin)
	}
	if DefaultConfig().Backend != BackendGeonames {
		t.Error("default backend is not geonames")
	}
}
