package config

// sections are the configuration sections owned by the component packages;
// each package validates its own.
type sections struct{}

func defaultSections() sections { return sections{} }

func (s sections) validate() []error { return nil }

func (c *Config) setAdminToken(v string)    {}
func (c *Config) setConsentSecret(v string) {}

// AdminToken returns the configured admin bearer token ("" if none).
func (c Config) AdminToken() string { return "" }
