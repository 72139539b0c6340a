//go:build race

package places

const raceEnabled = true
