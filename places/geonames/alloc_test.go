//go:build !race

package geonames

import (
	"context"
	"testing"

	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/internal/placestest"
)

// A geonames query into a big enough buffer allocates nothing.
func TestGeonamesNearbyAllocs(t *testing.T) {
	g := embeddedGeonames(t)
	ctx := context.Background()
	dst := make([]byte, 0, 32<<10)
	for _, q := range []places.Query{
		{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: 5},
		{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 50, Limit: 20},
		{Lat: 0, Lon: 179.99, RadiusKm: 50, Limit: 20},
	} {
		g.Nearby(ctx, q, dst[:0]) // warm the pool
		if n := testing.AllocsPerRun(100, func() { g.Nearby(ctx, q, dst[:0]) }); n != 0 {
			t.Errorf("%+v: %v allocs per query", q, n)
		}
	}
}
