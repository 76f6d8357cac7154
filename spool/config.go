package spool

import (
	"fmt"
	"time"
)

// Config tunes the spool. The zero value is not usable; start from
// DefaultConfig.
type Config struct {
	// MaxBytes caps the bytes not yet delivered to every forwarder; Append
	// returns ErrFull beyond it. Disk use can exceed it by about FileBytes.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxSegments caps the segments not yet delivered to every forwarder;
	// 0 means no cap besides MaxBytes.
	MaxSegments int64 `yaml:"max_segments"`
	// FileBytes is the size at which the log rolls to a new file; only
	// whole files are deleted once delivered.
	FileBytes int64 `yaml:"file_bytes"`
	// RetryMin and RetryMax bound the exponential backoff between delivery
	// attempts of one forwarder.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// Concurrency is how many deliveries run at once per forwarder, unless
	// the forwarder says otherwise (InFlightLimiter); 1 keeps strict order.
	Concurrency int `yaml:"concurrency"`
	// ForwardTimeout bounds one delivery attempt.
	ForwardTimeout time.Duration `yaml:"forward_timeout"`
	// CheckpointInterval is how often delivery progress is written to disk;
	// after a crash, at most this much delivery is repeated.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
}

// DefaultConfig returns the production defaults: 1 GiB cap, 64 MiB files,
// backoff from 200ms to 30s, 8 deliveries in flight per forwarder, 30s
// per attempt, checkpoints every 100ms.
func DefaultConfig() Config {
	return Config{
		MaxBytes:           1 << 30,
		MaxSegments:        0,
		FileBytes:          64 << 20,
		RetryMin:           200 * time.Millisecond,
		RetryMax:           30 * time.Second,
		Concurrency:        8,
		ForwardTimeout:     30 * time.Second,
		CheckpointInterval: 100 * time.Millisecond,
	}
}

// Validate reports the first setting that cannot work, naming its yaml key.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < 1<<20:
		return fmt.Errorf("max_bytes: %d must be at least 1048576 (1 MiB)", c.MaxBytes)
	case c.MaxSegments < 0:
		return fmt.Errorf("max_segments: %d must be 0 (no cap) or positive", c.MaxSegments)
	case c.FileBytes < 64<<10 || c.FileBytes > 1<<30:
		return fmt.Errorf("file_bytes: %d must be between 65536 and 1073741824", c.FileBytes)
	case c.RetryMin <= 0:
		return fmt.Errorf("retry_min: %s must be positive, e.g. 200ms", c.RetryMin)
	case c.RetryMax < c.RetryMin:
		return fmt.Errorf("retry_max: %s must be at least retry_min (%s)", c.RetryMax, c.RetryMin)
	case c.Concurrency < 1 || c.Concurrency > 256:
		return fmt.Errorf("concurrency: %d must be between 1 and 256", c.Concurrency)
	case c.ForwardTimeout <= 0:
		return fmt.Errorf("forward_timeout: %s must be positive, e.g. 30s", c.ForwardTimeout)
	case c.CheckpointInterval < time.Millisecond || c.CheckpointInterval > time.Minute:
		return fmt.Errorf("checkpoint_interval: %s must be between 1ms and 1m", c.CheckpointInterval)
	}
	return nil
}
