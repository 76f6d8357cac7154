package store

import (
	"fmt"
	"time"
)

// Config holds the local store settings (yaml section "store").
type Config struct {
	// Retention is how long a replay is kept after its last segment arrived.
	Retention time.Duration `yaml:"retention"`
	// MaxBytes caps the stored (compressed) size of all replays; the oldest
	// replays are deleted first when it is exceeded. 0 means no cap.
	MaxBytes int64 `yaml:"max_bytes"`
	// JanitorInterval is how often retention and the size cap are enforced.
	JanitorInterval time.Duration `yaml:"janitor_interval"`
	// GzipLevel is the compression level (1 fastest, 9 smallest) of
	// segments that reach the store uncompressed; ingest compresses the
	// segments it spools itself, at ingest.gzip_level.
	GzipLevel int `yaml:"gzip_level"`
}

// DefaultConfig returns the defaults: 30 days retention, no size cap, a
// janitor pass every 10 minutes, gzip level 1 (about twice as fast as
// level 5 for some 20% more disk: the store shares the CPU with ingest).
func DefaultConfig() Config {
	return Config{
		Retention:       720 * time.Hour,
		MaxBytes:        0,
		JanitorInterval: 10 * time.Minute,
		GzipLevel:       1,
	}
}

// Validate reports the first invalid setting, naming its yaml key.
func (c Config) Validate() error {
	switch {
	case c.Retention < time.Hour:
		return fmt.Errorf("retention: %s must be at least 1h (e.g. 720h for 30 days)", c.Retention)
	case c.MaxBytes < 0:
		return fmt.Errorf("max_bytes: %d must be 0 (no cap) or a positive number of bytes", c.MaxBytes)
	case c.JanitorInterval < time.Second:
		return fmt.Errorf("janitor_interval: %s must be at least 1s (e.g. 10m)", c.JanitorInterval)
	case c.GzipLevel < 1 || c.GzipLevel > 9:
		return fmt.Errorf("gzip_level: %d must be between 1 and 9", c.GzipLevel)
	}
	return nil
}
