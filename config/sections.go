package config

import (
	"fmt"

	"github.com/replaygate/replaygate/admin"
	"github.com/replaygate/replaygate/forward"
	"github.com/replaygate/replaygate/ingest"
	"github.com/replaygate/replaygate/inject"
	"github.com/replaygate/replaygate/inject/web"
	"github.com/replaygate/replaygate/policy"
	"github.com/replaygate/replaygate/policy/scrub"
	"github.com/replaygate/replaygate/spool"
	"github.com/replaygate/replaygate/store"
)

// Sections are the configuration Sections owned by the component packages;
// each package defines, defaults and validates its own.
type Sections struct {
	// Inject configures the HTML injector.
	Inject inject.Config `yaml:"inject"`
	// Consent configures consent modes, the signed cookie and the proof log.
	Consent policy.Config `yaml:"consent"`
	// Ingest bounds uploads: sizes and rates.
	Ingest ingest.Config `yaml:"ingest"`
	// Scrub configures the PII detectors.
	Scrub scrub.Config `yaml:"scrub"`
	// Spool configures the durable queue between ingest and forwarders.
	Spool spool.Config `yaml:"spool"`
	// Store configures the embedded local store.
	Store store.Config `yaml:"store"`
	// Forward enables destinations: local, sentry, http, nats.
	Forward forward.Config `yaml:"forward"`
	// Admin configures the admin listener.
	Admin admin.Config `yaml:"admin"`
	// Web holds the browser-side settings: the top-level sections
	// "recording" (what the recorder masks, blocks and captures) and
	// "banner" (the consent banner's texts and notice link).
	Web web.Config `yaml:",inline"`
}

func defaultSections() Sections {
	return Sections{
		Inject:  inject.DefaultConfig(),
		Consent: policy.DefaultConfig(),
		Ingest:  ingest.DefaultConfig(),
		Scrub:   scrub.DefaultConfig(),
		Spool:   spool.DefaultConfig(),
		Store:   store.DefaultConfig(),
		Forward: forward.DefaultConfig(),
		Admin:   admin.DefaultConfig(),
		Web:     web.DefaultConfig(),
	}
}

func (s Sections) validate() []error {
	var errs []error
	for _, v := range []struct {
		name string
		err  error
	}{
		{"inject", s.Inject.Validate()},
		{"consent", s.Consent.Validate()},
		{"ingest", s.Ingest.Validate()},
		{"scrub", s.Scrub.Validate()},
		{"spool", s.Spool.Validate()},
		{"store", s.Store.Validate()},
		{"forward", s.Forward.Validate()},
		{"admin", s.Admin.Validate()},
	} {
		errs = append(errs, prefixed(v.name+".", v.err)...)
	}
	// web's errors already start with "recording." or "banner.".
	errs = append(errs, prefixed("", s.Web.Validate())...)
	return errs
}

// AdminToken returns the configured admin bearer token ("" if none).
func (c Config) AdminToken() string { return c.Admin.Token }

func (c *Config) setAdminToken(v string)    { c.Admin.Token = v }
func (c *Config) setConsentSecret(v string) { c.Consent.Secret = v }

// prefixed puts the section name before each of err's joined errors, so
// every line of a validation report names its full field path.
func prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, prefixed(prefix, e)...)
		}
		return out
	}
	return []error{fmt.Errorf("%s%w", prefix, err)}
}
