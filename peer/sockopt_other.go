//go:build !linux

package peer

import "time"

func setUserTimeout(uintptr, time.Duration) {}
