package geonames

import "math"

// earthRadiusKm is the mean Earth radius (IUGG), used for great-circle
// distances on a sphere; the error against the WGS 84 ellipsoid stays
// under 0.5%, far below what a Places radius means.
const earthRadiusKm = 6371.0088

const degToRad = math.Pi / 180

// haversineKm is the great-circle distance between two points in degrees.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2 := lat1*degToRad, lat2*degToRad
	dφ := φ2 - φ1
	dλ := (lon2 - lon1) * degToRad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	a := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	if a > 1 {
		a = 1
	}
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(a))
}

// box is a latitude/longitude rectangle in degrees, as stored in the index:
// x is longitude, y latitude.
type box struct {
	min, max [2]float64
}

// searchBoxes returns the rectangles (one or two) that together cover every
// point within radiusKm of (lat, lon), appending them to dst.
//
// The latitude band is exact: the circle reaches radiusKm/R radians north and
// south. The longitude half-width is the exact extent of a spherical cap,
// asin(sin δ / cos φ) (the bounding-box method of J. P. Matuschek). When the
// cap contains a pole, every longitude is searched and the band runs to that
// pole. When the longitude range crosses ±180°, it is split in two boxes, one
// on each side of the antimeridian. A small margin guards against rounding;
// the exact distance filter comes after.
func searchBoxes(dst []box, lat, lon, radiusKm float64) []box {
	const margin = 1e-9
	δ := radiusKm / earthRadiusKm // angular radius, radians
	dLat := δ/degToRad + margin
	minLat, maxLat := lat-dLat, lat+dLat
	if minLat <= -90 || maxLat >= 90 || δ >= math.Pi/2 {
		return append(dst, box{
			min: [2]float64{-180, math.Max(minLat, -90)},
			max: [2]float64{180, math.Min(maxLat, 90)},
		})
	}
	dLon := math.Asin(math.Sin(δ)/math.Cos(lat*degToRad))/degToRad + margin
	minLon, maxLon := lon-dLon, lon+dLon
	switch {
	case dLon >= 180 || math.IsNaN(dLon):
		return append(dst, box{min: [2]float64{-180, minLat}, max: [2]float64{180, maxLat}})
	case minLon < -180:
		return append(dst,
			box{min: [2]float64{minLon + 360, minLat}, max: [2]float64{180, maxLat}},
			box{min: [2]float64{-180, minLat}, max: [2]float64{maxLon, maxLat}})
	case maxLon > 180:
		return append(dst,
			box{min: [2]float64{minLon, minLat}, max: [2]float64{180, maxLat}},
			box{min: [2]float64{-180, minLat}, max: [2]float64{maxLon - 360, maxLat}})
	}
	return append(dst, box{min: [2]float64{minLon, minLat}, max: [2]float64{maxLon, maxLat}})
}

// viewportAround returns the corners of a square of side sideKm centred on
// (lat, lon): northeast and southwest as [lat, lng]. The longitude half-width
// grows as 1/cos(lat); near a pole it covers every longitude, and a viewport
// crossing the antimeridian wraps so that northeast longitude < southwest
// longitude, as Google writes it.
func viewportAround(lat, lon, sideKm float64) (ne, sw [2]float64) {
	dLat := sideKm / 2 / earthRadiusKm / degToRad
	ne[0], sw[0] = math.Min(lat+dLat, 90), math.Max(lat-dLat, -90)
	c := math.Cos(lat * degToRad)
	if c < 1e-9 || dLat/c >= 180 {
		ne[1], sw[1] = 180, -180
		return ne, sw
	}
	dLon := dLat / c
	ne[1], sw[1] = lon+dLon, lon-dLon
	if ne[1] > 180 {
		ne[1] -= 360
	}
	if sw[1] < -180 {
		sw[1] += 360
	}
	return ne, sw
}
