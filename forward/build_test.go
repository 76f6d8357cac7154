package forward

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"default", func(*Config) {}, ""},
		{"sentry ok", func(c *Config) { c.Sentry.DSN = "https://k@o1.ingest.sentry.io/1" }, ""},
		{"sentry bad dsn", func(c *Config) { c.Sentry.DSN = "https://o1.ingest.sentry.io/1" }, "sentry.dsn:"},
		{"sentry timeout", func(c *Config) { c.Sentry.DSN = "https://k@h/1"; c.Sentry.Timeout = 0 }, "sentry.timeout:"},
		{"http bad url", func(c *Config) { c.HTTP.URL = "collector.local/x"; c.HTTP.Secret = testSecret }, "http.url:"},
		{"http short secret", func(c *Config) { c.HTTP.URL = "https://c.local/x"; c.HTTP.Secret = "short" }, "http.secret:"},
		{"http timeout", func(c *Config) { c.HTTP.URL = "https://c.local/x"; c.HTTP.Secret = testSecret; c.HTTP.Timeout = -1 }, "http.timeout:"},
		{"nats subject", func(c *Config) { c.NATS.URL = "nats://127.0.0.1:4222"; c.NATS.Subject = "" }, "nats.subject:"},
		{"nats stream", func(c *Config) { c.NATS.URL = "nats://x"; c.NATS.CreateStream = true; c.NATS.Stream = "" }, "nats.stream:"},
		{"nats window", func(c *Config) { c.NATS.URL = "nats://x"; c.NATS.DuplicateWindow = -time.Second }, "nats.duplicate_window:"},
		{"sentry concurrency", func(c *Config) { c.Sentry.DSN = "https://k@h/1"; c.Sentry.Concurrency = 0 }, "sentry.concurrency:"},
		{"nats concurrency", func(c *Config) { c.NATS.URL = "nats://x"; c.NATS.Concurrency = 1000 }, "nats.concurrency:"},
		{"nats timeout", func(c *Config) { c.NATS.URL = "nats://x"; c.NATS.Timeout = 0 }, "nats.timeout:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	fwds, err := Build(DefaultConfig(), zerolog.Nop(), nil)
	if err != nil || len(fwds) != 0 {
		t.Fatalf("default config: %d forwarders, %v (local is built by the caller)", len(fwds), err)
	}
	ns := startNATS(t)
	cfg := DefaultConfig()
	cfg.Sentry.DSN = "https://k@sentry.local/1"
	cfg.HTTP.URL, cfg.HTTP.Secret = "https://collector.local/in", testSecret
	cfg.NATS.URL = ns.ClientURL()
	fwds, err = Build(cfg, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(fwds)
	var names []string
	for _, f := range fwds {
		names = append(names, f.Name())
	}
	if strings.Join(names, ",") != "sentry,http,nats" {
		t.Fatalf("built %v", names)
	}
	for _, f := range fwds {
		if l, ok := f.(spool.InFlightLimiter); !ok || l.MaxInFlight() < 1 {
			t.Fatalf("%s does not declare its concurrency", f.Name())
		}
	}
	cfg.HTTP.Secret = ""
	if _, err := Build(cfg, zerolog.Nop(), nil); err == nil {
		t.Fatal("invalid config built")
	}
}
