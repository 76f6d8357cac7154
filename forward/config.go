package forward

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config selects and configures the remote forwarders. A forwarder is on
// when its address (dsn or url) is set.
type Config struct {
	// Local switches the embedded store forwarder; the caller builds it.
	Local LocalConfig `yaml:"local"`
	// Sentry sends replay envelopes to a Sentry project.
	Sentry SentryConfig `yaml:"sentry"`
	// HTTP posts signed JSON segments to a collector.
	HTTP HTTPConfig `yaml:"http"`
	// NATS publishes segments to a JetStream subject.
	NATS NATSConfig `yaml:"nats"`
}

// LocalConfig switches the local store forwarder.
type LocalConfig struct {
	Enabled bool `yaml:"enabled"`
}

// SentryConfig configures the Sentry forwarder.
type SentryConfig struct {
	// DSN is the project's client key URL,
	// https://PUBLIC_KEY@HOST/PROJECT_ID; empty disables the forwarder.
	DSN         string        `yaml:"dsn"` // secret
	Environment string        `yaml:"environment"`
	Release     string        `yaml:"release"`
	Timeout     time.Duration `yaml:"timeout"`
	// Concurrency is how many envelopes may be in flight at once.
	Concurrency int `yaml:"concurrency"`
}

// HTTPConfig configures the HTTP collector forwarder.
type HTTPConfig struct {
	// URL receives one POST per segment; empty disables the forwarder.
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature of every request.
	Secret  string        `yaml:"secret"` // secret
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency is how many requests may be in flight at once.
	Concurrency int `yaml:"concurrency"`
}

// NATSConfig configures the NATS JetStream forwarder.
type NATSConfig struct {
	// URL of the NATS server(s), comma-separated; empty disables the
	// forwarder.
	URL string `yaml:"url"`
	// Subject each segment is published to; a stream must capture it.
	Subject string `yaml:"subject"`
	// Stream, when set, is the stream publishes must land in; with
	// CreateStream it is created (file storage) if missing.
	Stream       string `yaml:"stream"`
	CreateStream bool   `yaml:"create_stream"`
	// DuplicateWindow is the stream's dedupe window for Nats-Msg-Id when
	// this forwarder creates it.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// Creds is the path of a NATS credentials file, if the server needs one.
	Creds   string        `yaml:"creds"`
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency is how many publishes may await their ack at once; 1
	// keeps the stream in spool order.
	Concurrency int `yaml:"concurrency"`
}

// DefaultConfig enables only the local store.
func DefaultConfig() Config {
	return Config{
		Local:  LocalConfig{Enabled: true},
		Sentry: SentryConfig{Environment: "production", Timeout: 10 * time.Second, Concurrency: 4},
		HTTP:   HTTPConfig{Timeout: 10 * time.Second, Concurrency: 8},
		NATS: NATSConfig{
			Subject:         "replaygate.segments",
			Stream:          "REPLAYGATE",
			DuplicateWindow: 10 * time.Minute,
			Timeout:         10 * time.Second,
			Concurrency:     8,
		},
	}
}

// Validate reports the first setting that cannot work, naming its yaml key.
func (c Config) Validate() error {
	if c.Sentry.DSN != "" {
		if _, err := parseDSN(c.Sentry.DSN); err != nil {
			return fmt.Errorf("sentry.dsn: %w", err)
		}
		if c.Sentry.Timeout <= 0 {
			return fmt.Errorf("sentry.timeout: %s must be positive, e.g. 10s", c.Sentry.Timeout)
		}
		if err := checkConcurrency("sentry", c.Sentry.Concurrency); err != nil {
			return err
		}
	}
	if c.HTTP.URL != "" {
		u, err := url.Parse(c.HTTP.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("http.url: must be an absolute http:// or https:// URL")
		}
		if len(c.HTTP.Secret) < 32 {
			return errors.New("http.secret: must be at least 32 characters (e.g. `openssl rand -hex 32`)")
		}
		if c.HTTP.Timeout <= 0 {
			return fmt.Errorf("http.timeout: %s must be positive, e.g. 10s", c.HTTP.Timeout)
		}
		if err := checkConcurrency("http", c.HTTP.Concurrency); err != nil {
			return err
		}
	}
	if c.NATS.URL != "" {
		switch {
		case c.NATS.Subject == "":
			return errors.New("nats.subject: must be set when nats.url is, e.g. replaygate.segments")
		case c.NATS.CreateStream && c.NATS.Stream == "":
			return errors.New("nats.stream: must be named when nats.create_stream is true")
		case c.NATS.DuplicateWindow < 0:
			return fmt.Errorf("nats.duplicate_window: %s must not be negative", c.NATS.DuplicateWindow)
		case c.NATS.Timeout <= 0:
			return fmt.Errorf("nats.timeout: %s must be positive, e.g. 10s", c.NATS.Timeout)
		}
		if err := checkConcurrency("nats", c.NATS.Concurrency); err != nil {
			return err
		}
	}
	return nil
}

func checkConcurrency(section string, n int) error {
	if n < 1 || n > 256 {
		return fmt.Errorf("%s.concurrency: %d must be between 1 and 256", section, n)
	}
	return nil
}
