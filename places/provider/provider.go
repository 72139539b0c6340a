// Package provider turns a places.Config into the backend it selects:
// geonames (offline, the default), google or google-new. It is the one place
// that links every backend, so that the node, places-server and tests pick a
// backend the same way.
package provider

import (
	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/geonames"
	"github.com/herdnet/herd/places/google"
)

// New returns the Provider that cfg selects. The geonames backend loads a
// data file here; the embedded extract it builds in the background once
// started (geonames.Later: about 0.4 s of CPU), answering once it is built; the
// Google backends need a key, from cfg.Key or the HERD_PLACES_KEY
// environment variable.
func New(cfg places.Config) (places.Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	switch cfg.Backend {
	case places.BackendGoogle:
		return google.NewLegacy(cfg)
	case places.BackendGoogleNew:
		return google.NewPlacesAPI(cfg)
	}
	if cfg.DataFile == "" {
		// The embedded extract cannot fail to load: build it once the
		// node listens (a file's errors are reported here, at once).
		return geonames.Later(func() (*geonames.Index, error) { return geonames.Load("") }), nil
	}
	return geonames.Load(cfg.DataFile)
}
