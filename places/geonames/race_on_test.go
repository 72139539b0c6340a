//go:build race

package geonames

const raceEnabled = true
