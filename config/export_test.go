package config

// Defaults fills in c's defaults, as Parse does, for the tests that
// validate a Config built in code.
func (c *Config) Defaults() { c.defaults() }
