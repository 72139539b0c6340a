// Package geonames is the offline Places backend: GeoNames places in an
// R-tree (tidwall/rtree). A query searches a box that is split at the
// antimeridian and widened to all longitudes when the circle holds a pole,
// filters by exact great-circle distance and ranks like Google's default
// prominence: the populated place nearest the point (the place the point is
// in) first, then by population, then distance. A query allocates nothing.
//
// The embedded data is GeoNames' cities500 (CC BY 4.0, see NOTICE), about
// 200,000 places, regenerated with go generate (gendata.sh, cmd/placesgen);
// any full 19-column GeoNames dump can be loaded instead (Load). Every answer
// credits GeoNames in html_attributions.
package geonames
