package policy

import (
	"fmt"
	"net/textproto"
	"regexp"
	"time"
)

// Mode says whether and how a region records.
type Mode string

const (
	// ModeOptIn records nothing until the visitor accepts.
	ModeOptIn Mode = "opt-in"
	// ModeOptOut shows a notice and records unless the visitor declines;
	// the gate grants on the visitor's behalf, recorded as such in the log.
	ModeOptOut Mode = "opt-out"
	// ModeOff never records: grants are refused and uploads too.
	ModeOff Mode = "off"
)

func (m Mode) valid() bool { return m == ModeOptIn || m == ModeOptOut || m == ModeOff }

// GPC policies.
const (
	// GPCRefuse treats Sec-GPC: 1 as a refusal: a grant is refused with 403
	// and uploads sent with the signal are refused.
	GPCRefuse = "refuse"
	// GPCIgnore lets the visitor's explicit choice decide; GPC is only logged.
	GPCIgnore = "ignore"
)

// IP logging policies for the consent proof log.
const (
	// LogIPOmit writes no address at all.
	LogIPOmit = "omit"
	// LogIPTruncate writes the /24 (IPv4) or /48 (IPv6) network.
	LogIPTruncate = "truncate"
)

// Month is the length of a month in cookie lifetimes (365.25 days / 12,
// rounded to the hour).
const Month = 730 * time.Hour

// MaxCookieLifetime caps the consent cookie lifetime (13 months, the CNIL
// recommendation for consent choices).
const MaxCookieLifetime = 13 * Month

// Config is the "consent" section of the configuration.
type Config struct {
	// PolicyVersion names the current privacy notice; changing it
	// invalidates every earlier decision.
	PolicyVersion string `yaml:"policy_version"`
	// DefaultMode applies to regions not listed in Regions.
	DefaultMode Mode `yaml:"default_mode"`
	// Regions maps a country code (as sent in RegionHeader) to its mode.
	Regions map[string]Mode `yaml:"regions"`
	// RegionHeader is the trusted request header that carries the visitor's
	// country (e.g. CF-IPCountry). Empty means no header is trusted and
	// DefaultMode applies everywhere. Only set it when the proxy in front
	// overwrites the header: a visitor can send any value otherwise.
	RegionHeader string `yaml:"region_header"`
	// GPC is "refuse" (Sec-GPC: 1 counts as a refusal) or "ignore".
	GPC string `yaml:"gpc"`
	// CookieLifetime is how long a decision (grant or refusal) is remembered.
	CookieLifetime time.Duration `yaml:"cookie_lifetime"`
	// Secret is the HMAC key of the consent cookie (at least 32 bytes). Empty
	// means a key is generated once and kept in {data_dir}/consent.key;
	// replicas must share a configured secret.
	Secret string `yaml:"secret"` // secret
	// PreviousSecrets still verify cookies (key rotation); they never sign.
	PreviousSecrets []string `yaml:"previous_secrets"` // secret
	// LogIP is "omit" or "truncate" (/24, /48) for the consent proof log.
	LogIP string `yaml:"log_ip"`
	// LogRetention is how long consent proof records are kept; at least the
	// cookie lifetime so every live decision keeps its proof.
	LogRetention time.Duration `yaml:"log_retention"`
	// EraseOnWithdraw erases a subject's recordings when it withdraws.
	EraseOnWithdraw bool `yaml:"erase_on_withdraw"`
	// DecisionRate caps consent decisions per second over all visitors
	// (each one is an fsync'd proof record); beyond it POST answers 429.
	// 0 disables the cap.
	DecisionRate float64 `yaml:"decision_rate"`
	// DecisionBurst is how many decisions may arrive at once.
	DecisionBurst int `yaml:"decision_burst"`
}

// DefaultConfig returns opt-in everywhere, GPC as refusal, 6-month cookies,
// no IP logged, three years of proof, erasure on withdrawal and at most 100
// decisions per second (burst 500).
func DefaultConfig() Config {
	return Config{
		PolicyVersion:   "1",
		DefaultMode:     ModeOptIn,
		GPC:             GPCRefuse,
		CookieLifetime:  6 * Month,
		LogIP:           LogIPOmit,
		LogRetention:    36 * Month,
		EraseOnWithdraw: true,
		DecisionRate:    100,
		DecisionBurst:   500,
	}
}

var (
	policyVersionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	regionRE        = regexp.MustCompile(`^[A-Z][A-Z0-9]$`)
)

// minSecretLen is the shortest accepted HMAC key, in bytes.
const minSecretLen = 32

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if !policyVersionRE.MatchString(c.PolicyVersion) {
		return fmt.Errorf("policy_version: %q must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", c.PolicyVersion)
	}
	if !c.DefaultMode.valid() {
		return fmt.Errorf("default_mode: %q must be opt-in, opt-out or off", c.DefaultMode)
	}
	for region, m := range c.Regions {
		if !regionRE.MatchString(region) {
			return fmt.Errorf("regions: key %q must be a two-letter upper-case country code such as DE", region)
		}
		if !m.valid() {
			return fmt.Errorf("regions: %s: %q must be opt-in, opt-out or off", region, m)
		}
	}
	if c.RegionHeader != "" && !validHeaderName(c.RegionHeader) {
		return fmt.Errorf("region_header: %q must be a valid HTTP header name such as CF-IPCountry", c.RegionHeader)
	}
	if c.GPC != GPCRefuse && c.GPC != GPCIgnore {
		return fmt.Errorf("gpc: %q must be refuse or ignore", c.GPC)
	}
	if c.CookieLifetime < time.Hour || c.CookieLifetime > MaxCookieLifetime {
		return fmt.Errorf("cookie_lifetime: %s must be between 1h and %s (13 months)", c.CookieLifetime, MaxCookieLifetime)
	}
	if c.Secret != "" && len(c.Secret) < minSecretLen {
		return fmt.Errorf("secret: must be at least %d bytes (e.g. openssl rand -hex 32), or empty to generate one", minSecretLen)
	}
	for i, s := range c.PreviousSecrets {
		if len(s) < minSecretLen {
			return fmt.Errorf("previous_secrets: entry %d must be at least %d bytes", i, minSecretLen)
		}
	}
	if c.LogIP != LogIPOmit && c.LogIP != LogIPTruncate {
		return fmt.Errorf("log_ip: %q must be omit or truncate", c.LogIP)
	}
	if c.LogRetention < c.CookieLifetime {
		return fmt.Errorf("log_retention: %s must be at least cookie_lifetime (%s) so every live decision keeps its proof", c.LogRetention, c.CookieLifetime)
	}
	if c.DecisionRate < 0 {
		return fmt.Errorf("decision_rate: %g must be positive, or 0 to disable", c.DecisionRate)
	}
	if c.DecisionRate > 0 && c.DecisionBurst < 1 {
		return fmt.Errorf("decision_burst: %d must be at least 1", c.DecisionBurst)
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		ok := b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
		if !ok {
			return false
		}
	}
	return textproto.CanonicalMIMEHeaderKey(s) != ""
}
