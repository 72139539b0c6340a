// Package httpapi serves any places.Provider over Google's legacy Nearby
// Search HTTP API (fasthttp), so that a herd, or any Google client, can run
// against the offline index: `herd places-server`.
package httpapi
