//go:build !race

package geonames

const raceEnabled = false
