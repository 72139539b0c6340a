package places

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Backend names, as used in Config.Backend and returned by Provider.Name.
const (
	BackendGeonames  = "geonames"
	BackendGoogle    = "google"
	BackendGoogleNew = "google-new"
)

// KeyEnv is the environment variable New reads the API key from when
// Config.Key is empty.
const KeyEnv = "HERD_PLACES_KEY"

// Default base URLs of the two Google APIs.
const (
	DefaultGoogleBaseURL    = "https://maps.googleapis.com"
	DefaultGoogleNewBaseURL = "https://places.googleapis.com"
)

// Config selects and tunes a Provider. Start from DefaultConfig; New
// validates it once and the Provider keeps its own copy.
type Config struct {
	// Backend is "geonames" (offline, the default), "google" (legacy Nearby
	// Search) or "google-new" (Places API (New) searchNearby).
	Backend string
	// BaseURL is the scheme and host (and optional path prefix) of the
	// Google API; "" means the real one for the backend
	// (DefaultGoogleBaseURL, DefaultGoogleNewBaseURL). Tests point it at a
	// fake server. https turns TLS on.
	BaseURL string
	// Key is the Google API key; when empty, New reads KeyEnv. It is sent
	// only to BaseURL and scrubbed from every error message.
	Key string
	// DataFile is a GeoNames dump for the geonames backend (19-column
	// format or cmd/placesgen output, plain or gzip); "" uses the embedded
	// cities500 extract.
	DataFile string
	// Timeout bounds one Google request (dial, write, read), also when the
	// caller's context allows more.
	Timeout time.Duration
	// MaxConns caps the pooled connections to Google.
	MaxConns int
	// MaxResponseBodySize caps a Google response body, in bytes.
	MaxResponseBodySize int
}

// DefaultConfig is the offline geonames backend with sensible client limits
// for when the backend is switched to Google.
func DefaultConfig() Config {
	return Config{
		Backend:             BackendGeonames,
		Timeout:             5 * time.Second,
		MaxConns:            64,
		MaxResponseBodySize: 1 << 20,
	}
}

// Validate reports the first problem with c. Zero Timeout, MaxConns and
// MaxResponseBodySize are accepted (New fills in the defaults).
func (c *Config) Validate() error {
	switch c.Backend {
	case "", BackendGeonames, BackendGoogle, BackendGoogleNew:
	default:
		return fmt.Errorf("places: unknown backend %q (want geonames, google or google-new)", c.Backend)
	}
	if c.Timeout < 0 || c.MaxConns < 0 || c.MaxResponseBodySize < 0 {
		return errors.New("places: negative Timeout, MaxConns or MaxResponseBodySize")
	}
	return nil
}

// WithDefaults fills zero fields from DefaultConfig and the key from KeyEnv.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Backend == "" {
		c.Backend = d.Backend
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = d.MaxConns
	}
	if c.MaxResponseBodySize == 0 {
		c.MaxResponseBodySize = d.MaxResponseBodySize
	}
	if c.Key == "" {
		c.Key = os.Getenv(KeyEnv)
	}
	if c.BaseURL == "" {
		switch c.Backend {
		case BackendGoogle:
			c.BaseURL = DefaultGoogleBaseURL
		case BackendGoogleNew:
			c.BaseURL = DefaultGoogleNewBaseURL
		}
	}
	return c
}
