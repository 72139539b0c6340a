package admin

import (
	"runtime/debug"
	"testing"
)

func TestBuildLabels(t *testing.T) {
	for _, c := range []struct {
		bi                           debug.BuildInfo
		version, goversion, revision string
	}{
		{debug.BuildInfo{}, "unknown", "unknown", "unknown"},
		{debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, "(devel)", "go1.26.0", "unknown"},
		{debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3590e04abc"}, {Key: "vcs.modified", Value: "false"}}}, "v1.2.3", "go1.26.0", "3590e04abc"},
		{debug.BuildInfo{GoVersion: "go1.26.0", Settings: []debug.BuildSetting{
			{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "3590e04abc"}}}, "unknown", "go1.26.0", "3590e04abc-dirty"},
	} {
		v, g, r := buildLabels(&c.bi)
		if v != c.version || g != c.goversion || r != c.revision {
			t.Errorf("%+v: %q %q %q, want %q %q %q", c.bi, v, g, r, c.version, c.goversion, c.revision)
		}
	}
}
