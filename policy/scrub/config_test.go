package scrub

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	for i, d := range cfg.Detectors.builtin() {
		if !d.Enabled {
			t.Errorf("detector %s is off by default", builtinNames[i])
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string // error prefix; "" means valid
	}{
		{"bad method", func(c *Config) { c.Detectors.Email.Method = "blur" }, `detectors.email.method: "blur" must be one of`},
		{"hash without key", func(c *Config) { c.Detectors.SSN.Method = Hash }, "hash_key: must be set"},
		{"hash with short key", func(c *Config) { c.Detectors.SSN.Method = Hash; c.HashKey = "short" }, "hash_key: must be set"},
		{"hash on disabled detector needs no key", func(c *Config) { c.Detectors.SSN.Method = Hash; c.Detectors.SSN.Enabled = false }, ""},
		{"hash with key", func(c *Config) { c.Detectors.SSN.Method = Hash; c.HashKey = "0123456789abcdef" }, ""},
		{"depth too small", func(c *Config) { c.MaxDepth = 2 }, "max_depth: 2 must be between 8 and 10000"},
		{"rule ok", func(c *Config) { c.Rules = []Rule{{Name: "emp", Pattern: `EMP-\d+`}} }, ""},
		{"rule bad name", func(c *Config) { c.Rules = []Rule{{Name: "Emp", Pattern: `x`}} }, `rules[0].name: "Emp" must be`},
		{"rule clashes with detector", func(c *Config) { c.Rules = []Rule{{Name: "email", Pattern: `x`}} }, `rules[0].name: "email" is already used`},
		{"rule duplicate", func(c *Config) { c.Rules = []Rule{{Name: "a", Pattern: `x`}, {Name: "a", Pattern: `y`}} }, `rules[1].name: "a" is already used`},
		{"rule bad pattern", func(c *Config) { c.Rules = []Rule{{Name: "a", Pattern: `(`}} }, "rules[0].pattern: does not compile"},
		{"rule matches empty", func(c *Config) { c.Rules = []Rule{{Name: "a", Pattern: `x*`}} }, "rules[0].pattern: \"x*\" matches the empty string"},
		{"rule matches its mask", func(c *Config) { c.Rules = []Rule{{Name: "a", Pattern: `\*+`}} }, "rules[0].pattern: \"\\\\*+\" matches its own output"},
		{"rule matches its replacement", func(c *Config) { c.Rules = []Rule{{Name: "a", Pattern: `\[a\]`, Method: Replace}} }, `rules[0].pattern: "\\[a\\]" matches its own output`},
		{"rule bad method", func(c *Config) { c.Rules = []Rule{{Name: "a", Pattern: `x`, Method: "x"}} }, "rules[0].method"},
		{"rule hash needs key", func(c *Config) { c.Rules = []Rule{{Name: "a", Pattern: `x`, Method: Hash}} }, "hash_key"},
		{"extra key empty", func(c *Config) { c.ExtraSensitiveKeys = []string{"--"} }, "extra_sensitive_keys[0]"},
		{"extra param empty", func(c *Config) { c.ExtraSensitiveParams = []string{""} }, "extra_sensitive_params[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("error %v, want prefix %q", err, tt.want)
			}
			if _, nerr := New(cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("New disagrees with Validate: %v vs %v", nerr, err)
			}
		})
	}
}

// TestConfigYAML decodes a partial section over the defaults, as the config
// package does.
func TestConfigYAML(t *testing.T) {
	in := `
detectors:
  email: {method: hash}
  ipv4: {enabled: false}
rules:
  - {name: employee, pattern: 'EMP-\d{6}', method: replace}
hash_key: 0123456789abcdef0123
max_depth: 300
`
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(in))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !cfg.Detectors.Email.Enabled || cfg.Detectors.Email.Method != Hash || cfg.Detectors.IPv4.Enabled ||
		cfg.Detectors.IPv4.Method != Mask || cfg.MaxDepth != 300 || len(cfg.Rules) != 1 || !cfg.Detectors.SSN.Enabled {
		t.Errorf("decoded %+v", cfg)
	}
}
