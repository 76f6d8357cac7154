package scrub

import (
	"errors"
	"fmt"
	"regexp"
)

// Method says how a detected value is rewritten.
type Method string

// The rewrite methods.
const (
	// Mask replaces every character with '*', keeping the length so a
	// replayed page keeps its layout.
	Mask Method = "mask"
	// Replace substitutes the detector's name in brackets, e.g. "[email]".
	Replace Method = "replace"
	// Hash substitutes "[name:" + 12 hex digits of HMAC-SHA256(hash_key,
	// value) + "]": stable, so equal values stay joinable, but not reversible.
	Hash Method = "hash"
	// Remove deletes the value.
	Remove Method = "remove"
)

func (m Method) valid() bool {
	switch m {
	case Mask, Replace, Hash, Remove:
		return true
	}
	return false
}

// Detector switches one built-in detector and chooses its method.
type Detector struct {
	Enabled bool   `yaml:"enabled"`
	Method  Method `yaml:"method"`
}

// Detectors holds the built-in detectors. Each is on by default.
type Detectors struct {
	// CreditCard: 13–19 digits, optionally grouped by spaces or dashes, with a
	// known issuer prefix and a valid Luhn check digit.
	CreditCard Detector `yaml:"creditcard"`
	// SSN: US social security numbers written 123-45-6789, invalid areas
	// (000, 666, 9xx), group 00 and serial 0000 excluded.
	SSN Detector `yaml:"ssn"`
	// Email addresses.
	Email Detector `yaml:"email"`
	// IPv4 addresses (dotted quad, no leading zeros).
	IPv4 Detector `yaml:"ipv4"`
	// IPv6 addresses (anything net/netip parses, at least two colons).
	IPv6 Detector `yaml:"ipv6"`
	// IBAN: known country, right length, mod-97 check; compact or grouped by 4.
	IBAN Detector `yaml:"iban"`
	// JWT: eyJ….eyJ….signature.
	JWT Detector `yaml:"jwt"`
	// Bearer: the token after "Bearer ".
	Bearer Detector `yaml:"bearer"`
	// PrivateKey: PEM "-----BEGIN … PRIVATE KEY-----" blocks.
	PrivateKey Detector `yaml:"privatekey"`
	// APIKey: well-known key formats (AWS, GitHub, Stripe, Slack, Google,
	// GitLab, npm, Shopify, OpenAI, Anthropic).
	APIKey Detector `yaml:"apikey"`
	// URLCredentials: the user:pass part of scheme://user:pass@host.
	URLCredentials Detector `yaml:"urlcreds"`
	// URLParams: values of sensitive query (or form, or fragment) parameters
	// such as token, password, secret, key, session, auth, code, email.
	URLParams Detector `yaml:"urlparam"`
	// SensitiveKeys: every value under a sensitive JSON key (password, secret,
	// api_key, token, authorization, cookie, …), including nested ones.
	SensitiveKeys Detector `yaml:"sensitivekey"`
}

// Rule is a custom detector: every match of Pattern is rewritten by Method.
type Rule struct {
	// Name labels hits ("[name]" for replace); lower case letters, digits, _.
	Name string `yaml:"name"`
	// Pattern is a Go regular expression (RE2 syntax).
	Pattern string `yaml:"pattern"`
	// Method defaults to mask.
	Method Method `yaml:"method"`
}

// Config is the "scrub" configuration section. Decode it over
// DefaultConfig so omitted fields keep their defaults:
//
//	scrub:
//	  detectors:
//	    email: {method: hash}      # enabled stays true
//	    ipv4: {enabled: false}
//	  rules:
//	    - {name: employee_id, pattern: 'EMP-\d{6}', method: replace}
//	  extra_sensitive_keys: [loyalty_number]
//	  hash_key: "…32 random bytes…"
//	  max_depth: 512
type Config struct {
	Detectors Detectors `yaml:"detectors"`
	// Rules are custom detectors run on every string after the built-in ones.
	// They cost a regular expression per string; a literal prefix in the
	// pattern lets strings without it skip the expression.
	Rules []Rule `yaml:"rules"`
	// ExtraSensitiveKeys adds JSON key names whose values are scrubbed whole;
	// a key matches if its lower-cased letters and digits contain the entry.
	ExtraSensitiveKeys []string `yaml:"extra_sensitive_keys"`
	// ExtraSensitiveParams adds URL parameter names (exact, case-insensitive,
	// ignoring '_', '-' and '.').
	ExtraSensitiveParams []string `yaml:"extra_sensitive_params"`
	// HashKey keys the hash method. Required (at least 16 bytes) when any
	// detector or rule uses hash; replicas must share it for stable output.
	HashKey string `yaml:"hash_key"` // secret
	// MaxDepth bounds JSON nesting. A DOM tree of depth d nests about 2d+4
	// levels in an rrweb full snapshot.
	MaxDepth int `yaml:"max_depth"`
}

// DefaultMaxDepth allows DOM trees about 250 elements deep.
const DefaultMaxDepth = 512

// DefaultConfig turns every detector on with mask (PEM private keys use
// replace: a masked key block is only noise).
func DefaultConfig() Config {
	on := Detector{Enabled: true, Method: Mask}
	return Config{
		Detectors: Detectors{
			CreditCard:     on,
			SSN:            on,
			Email:          on,
			IPv4:           on,
			IPv6:           on,
			IBAN:           on,
			JWT:            on,
			Bearer:         on,
			PrivateKey:     Detector{Enabled: true, Method: Replace},
			APIKey:         on,
			URLCredentials: on,
			URLParams:      on,
			SensitiveKeys:  on,
		},
		MaxDepth: DefaultMaxDepth,
	}
}

// builtin lists the built-in detectors in tie-breaking order (an earlier
// detector wins two findings with the same extent).
func (d *Detectors) builtin() [numBuiltin]*Detector {
	return [numBuiltin]*Detector{
		detPrivateKey: &d.PrivateKey,
		detJWT:        &d.JWT,
		detBearer:     &d.Bearer,
		detAPIKey:     &d.APIKey,
		detURLCreds:   &d.URLCredentials,
		detURLParam:   &d.URLParams,
		detEmail:      &d.Email,
		detCreditCard: &d.CreditCard,
		detIBAN:       &d.IBAN,
		detSSN:        &d.SSN,
		detIPv6:       &d.IPv6,
		detIPv4:       &d.IPv4,
		detSensitive:  &d.SensitiveKeys,
	}
}

var ruleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Validate reports the first problem, naming the field and the fix.
func (c Config) Validate() error {
	usesHash := false
	for i, d := range c.Detectors.builtin() {
		if !d.Method.valid() {
			return fmt.Errorf("detectors.%s.method: %q must be one of mask, replace, hash, remove", builtinNames[i], d.Method)
		}
		if d.Enabled && d.Method == Hash {
			usesHash = true
		}
	}
	seen := map[string]bool{}
	for _, n := range builtinNames {
		seen[n] = true
	}
	for i, r := range c.Rules {
		if !ruleName.MatchString(r.Name) {
			return fmt.Errorf("rules[%d].name: %q must be 1-32 lower case letters, digits or _, starting with a letter", i, r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("rules[%d].name: %q is already used; choose another name", i, r.Name)
		}
		seen[r.Name] = true
		m := r.Method
		if m == "" {
			m = Mask
		}
		if !m.valid() {
			return fmt.Errorf("rules[%d].method: %q must be one of mask, replace, hash, remove", i, r.Method)
		}
		if m == Hash {
			usesHash = true
		}
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return fmt.Errorf("rules[%d].pattern: does not compile (%v); use Go RE2 syntax", i, err)
		}
		if re.MatchString("") {
			return fmt.Errorf("rules[%d].pattern: %q matches the empty string; make it match at least one character", i, r.Pattern)
		}
		// Idempotence: a rule must not match what it writes.
		if out := sampleOutput(r.Name, m); out != "" && re.MatchString(out) {
			return fmt.Errorf("rules[%d].pattern: %q matches its own output %q; narrow it or pick another method", i, r.Pattern, out)
		}
	}
	for i, k := range c.ExtraSensitiveKeys {
		if len(normalizeName(nil, []byte(k))) == 0 {
			return fmt.Errorf("extra_sensitive_keys[%d]: %q needs at least one letter or digit", i, k)
		}
	}
	for i, k := range c.ExtraSensitiveParams {
		if len(normalizeName(nil, []byte(k))) == 0 {
			return fmt.Errorf("extra_sensitive_params[%d]: %q needs at least one letter or digit", i, k)
		}
	}
	if usesHash && len(c.HashKey) < 16 {
		return errors.New("hash_key: must be set to at least 16 bytes when a detector or rule uses method hash")
	}
	if c.MaxDepth < 8 || c.MaxDepth > 10000 {
		return fmt.Errorf("max_depth: %d must be between 8 and 10000", c.MaxDepth)
	}
	return nil
}

// sampleOutput is what method m writes for a rule, as far as it is fixed.
func sampleOutput(name string, m Method) string {
	switch m {
	case Mask:
		return "********"
	case Replace:
		return "[" + name + "]"
	case Hash:
		return "[" + name + ":0123456789ab]"
	}
	return ""
}
