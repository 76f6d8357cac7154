package config

import (
	"strings"
	"testing"
)

// FuzzDecode: arbitrary YAML never panics the loader or the validator, and
// whatever decodes either validates or yields an error naming a field.
func FuzzDecode(f *testing.F) {
	f.Add("upstream: http://x\n")
	f.Add("proxy:\n  trusted_proxies: [\"::1\", nope]\n  dial_timeout: -1s\n")
	f.Add("consent:\n  regions: {US: opt-out}\nscrub:\n  rules: [{name: a, pattern: \"(\", method: mask}]\n")
	f.Add("inject: [1, 2]\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg := Default()
		if err := Decode(&cfg, strings.NewReader(doc)); err != nil {
			return
		}
		if err := cfg.Validate(); err != nil && !strings.Contains(err.Error(), ":") {
			t.Fatalf("validation error names no field: %v", err)
		}
		if _, err := cfg.Redacted(); err != nil {
			t.Fatalf("redacted: %v", err)
		}
	})
}
