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

// New returns the Provider that cfg selects. The geonames backend loads its
// data here (about a quarter of a second for the embedded extract); the
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
	return geonames.Load(cfg.DataFile)
}
