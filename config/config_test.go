package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("upstream: http://file:1\nlisten: \":7000\"\ndata_dir: /from/file\n"), 0o600)
	cfg, err := Load(path, envOf(map[string]string{"REPLAYGATE_LISTEN": ":7001"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream != "http://file:1" || cfg.Listen != ":7001" || cfg.DataDir != "/from/file" || cfg.AdminListen != "127.0.0.1:9090" {
		t.Fatalf("precedence wrong: %+v", cfg)
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("upstream: http://x\nupstreem: http://typo\n"), 0o600)
	_, err := Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), "upstreem") {
		t.Fatalf("want an error naming the unknown key, got %v", err)
	}
}

func TestValidateNamesFieldAndFix(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ftp upstream", func(c *Config) { c.Upstream = "ftp://x" }, `upstream: "ftp://x" must be an http or https URL`},
		{"missing upstream", func(c *Config) { c.Upstream = "" }, "upstream: is required"},
		{"upstream with query", func(c *Config) { c.Upstream = "http://x/?a=1" }, "must not carry credentials, a query or a fragment"},
		{"bad listen", func(c *Config) { c.Listen = "8080" }, `listen: "8080" must be host:port`},
		{"bad prefix", func(c *Config) { c.Prefix = "replay/" }, "prefix:"},
		{"bad level", func(c *Config) { c.Log.Level = "loud" }, "log.level:"},
		{"bad trusted proxy", func(c *Config) { c.Proxy.TrustedProxies = []string{"nope"} }, `proxy.trusted_proxies: "nope" is not an IP address or CIDR`},
		{"bad timeout", func(c *Config) { c.Proxy.DialTimeout = 0 }, "proxy.dial_timeout: 0s must be positive"},
		{"tls half", func(c *Config) { c.Proxy.TLSCertFile = "x.pem" }, "proxy.tls_cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Upstream = "http://127.0.0.1:3000"
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want containing %q", err, tt.want)
			}
		})
	}
	c := Default()
	c.Upstream = "https://shop.example"
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults with an upstream must be valid: %v", err)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c := Default()
	c.Upstream = "http://x"
	c.setAdminToken("tok-very-secret")
	c.setConsentSecret("consent-very-secret")
	c.Forward.HTTP.URL = "https://collector:pw-very-secret@collector.example/in?token=q-very-secret"
	c.Forward.NATS.URL = "nats://nats-user:n-very-secret@a.example:4222, nats://b.example:4222, bare-user:b-very-secret@c.example:4222"
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "https://redacted@collector.example/in?redacted") ||
		!strings.Contains(string(out), "nats://redacted@a.example:4222,nats://b.example:4222,redacted@c.example:4222") {
		t.Errorf("forwarder URLs not shown with credentials hidden:\n%s", out)
	}
	for _, s := range []string{"tok-very-secret", "consent-very-secret", "pw-very-secret", "q-very-secret", "n-very-secret", "nats-user", "b-very-secret", "bare-user"} {
		if strings.Contains(string(out), s) {
			t.Errorf("redacted output contains %q", s)
		}
	}
	if !strings.Contains(string(out), "upstream: http://x") {
		t.Errorf("redacted output lost plain fields:\n%s", out)
	}
}
