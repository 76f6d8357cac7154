package ingest

import (
	"fmt"
	"time"
)

// Config is the "ingest" section of the configuration.
type Config struct {
	// MaxBodyBytes caps an upload as sent (compressed).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxDecodedBytes caps an upload after decompression.
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
	// SubjectRate is the sustained uploads per second allowed per consent
	// subject; 0 disables the per-subject limit.
	SubjectRate float64 `yaml:"subject_rate"`
	// SubjectBurst is how many uploads a subject may send at once (a page
	// unload flushes several).
	SubjectBurst int `yaml:"subject_burst"`
	// OverallRate is the sustained uploads per second accepted in total; 0
	// disables the overall limit.
	OverallRate float64 `yaml:"overall_rate"`
	// OverallBurst is the overall burst size.
	OverallBurst int `yaml:"overall_burst"`
	// MaxSubjects bounds the per-subject limiters kept in memory; the least
	// recently seen subject's limiter is dropped beyond it.
	MaxSubjects int `yaml:"max_subjects"`
	// FullRetryAfter is the Retry-After sent with 503 when the spool is full.
	FullRetryAfter time.Duration `yaml:"full_retry_after"`
	// GzipLevel is the compression level (1 fastest, 9 smallest) of the
	// scrubbed events, compressed once here for the spool and the store.
	GzipLevel int `yaml:"gzip_level"`
}

// DefaultConfig returns 1 MiB on the wire, 16 MiB decoded, 2 uploads/s per
// subject (burst 20), 5,000 uploads/s overall (burst 1,000), 100,000
// tracked subjects, a 5s Retry-After when the spool is full, and gzip
// level 1 for the scrubbed events (about twice as fast as level 5 for
// some 20% more disk).
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:    1 << 20,
		MaxDecodedBytes: 16 << 20,
		SubjectRate:     2,
		SubjectBurst:    20,
		OverallRate:     5000,
		OverallBurst:    1000,
		MaxSubjects:     100_000,
		FullRetryAfter:  5 * time.Second,
		GzipLevel:       1,
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<30:
		return fmt.Errorf("max_body_bytes: %d must be between 1024 and 1073741824", c.MaxBodyBytes)
	case c.MaxDecodedBytes < c.MaxBodyBytes || c.MaxDecodedBytes > 1<<30:
		return fmt.Errorf("max_decoded_bytes: %d must be between max_body_bytes (%d) and 1073741824", c.MaxDecodedBytes, c.MaxBodyBytes)
	case c.SubjectRate < 0:
		return fmt.Errorf("subject_rate: %g must be positive, or 0 to disable", c.SubjectRate)
	case c.SubjectRate > 0 && c.SubjectBurst < 1:
		return fmt.Errorf("subject_burst: %d must be at least 1", c.SubjectBurst)
	case c.OverallRate < 0:
		return fmt.Errorf("overall_rate: %g must be positive, or 0 to disable", c.OverallRate)
	case c.OverallRate > 0 && c.OverallBurst < 1:
		return fmt.Errorf("overall_burst: %d must be at least 1", c.OverallBurst)
	case c.SubjectRate > 0 && c.MaxSubjects < 1:
		return fmt.Errorf("max_subjects: %d must be at least 1, e.g. 100000", c.MaxSubjects)
	case c.FullRetryAfter < time.Second || c.FullRetryAfter > time.Hour:
		return fmt.Errorf("full_retry_after: %s must be between 1s and 1h", c.FullRetryAfter)
	case c.GzipLevel < 1 || c.GzipLevel > 9:
		return fmt.Errorf("gzip_level: %d must be between 1 and 9", c.GzipLevel)
	}
	return nil
}
