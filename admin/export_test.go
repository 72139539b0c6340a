package admin

import "time"

// SetSummaryEvery makes servers created from now on summarise bad requests
// every d; it returns a func that restores the default.
func SetSummaryEvery(d time.Duration) (restore func()) {
	old := summaryEvery
	summaryEvery = d
	return func() { summaryEvery = old }
}
