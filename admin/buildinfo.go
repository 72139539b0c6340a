package admin

import (
	"runtime/debug"
	"strconv"
	"sync"
)

// buildInfo is the herd_build_info sample (with its newline), read once
// from the binary's build information: the main module's version, the Go
// version, and the VCS revision (with "-dirty" when the tree had local
// changes). A field the build did not record is "unknown".
var buildInfo = sync.OnceValue(func() string {
	version, goversion, revision := "unknown", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goversion, revision = buildLabels(bi)
	}
	return "herd_build_info{version=" + strconv.Quote(version) + ",goversion=" + strconv.Quote(goversion) +
		",revision=" + strconv.Quote(revision) + "} 1\n"
})

// buildLabels are herd_build_info's labels for bi.
func buildLabels(bi *debug.BuildInfo) (version, goversion, revision string) {
	version, goversion, revision = bi.Main.Version, bi.GoVersion, "unknown"
	if version == "" {
		version = "unknown"
	}
	if goversion == "" {
		goversion = "unknown"
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && revision != "unknown" {
		revision += "-dirty"
	}
	return version, goversion, revision
}
