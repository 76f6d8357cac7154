package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/replaygate/replaygate/proxy"
)

// Config is the whole configuration of a replaygate process.
type Config struct {
	// Listen is the public address browsers reach.
	Listen string `yaml:"listen"`
	// Upstream is the site replaygate stands in front of.
	Upstream string `yaml:"upstream"`
	// AdminListen is the admin listener's address (API, metrics, viewer).
	AdminListen string `yaml:"admin_listen"`
	// DataDir holds the spool, the local store, keys and the consent log.
	DataDir string `yaml:"data_dir"`
	// Prefix is the path under which replaygate serves its own public
	// endpoints (gate, recorder, consent, ingest).
	Prefix string `yaml:"prefix"`
	// Log configures the process log.
	Log LogConfig `yaml:"log"`
	// Proxy tunes the reverse proxy.
	Proxy proxy.Config `yaml:"proxy"`

	Sections `yaml:",inline"`
}

// LogConfig configures zerolog output.
type LogConfig struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level"`
	// Format is "json" (default) or "console".
	Format string `yaml:"format"`
}

// Default returns the configuration used where nothing else is set.
func Default() Config {
	return Config{
		Listen:      ":8080",
		AdminListen: "127.0.0.1:9090",
		DataDir:     "data",
		Prefix:      "/__replay",
		Log:         LogConfig{Level: "info", Format: "json"},
		Proxy:       proxy.DefaultConfig(),
		Sections:    defaultSections(),
	}
}

// Load reads the YAML file at path (if path is not empty) over the defaults,
// then applies the environment. Unknown YAML keys are an error.
func Load(path string, env func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := Decode(&cfg, bytes.NewReader(b)); err != nil {
			return cfg, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	cfg.ApplyEnv(env)
	return cfg, nil
}

// Decode reads YAML from r into cfg, refusing unknown keys.
func Decode(cfg *Config, r io.Reader) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Env names the environment variables replaygate reads, by field.
var envNames = []struct {
	name  string
	apply func(c *Config, v string)
}{
	{"REPLAYGATE_LISTEN", func(c *Config, v string) { c.Listen = v }},
	{"REPLAYGATE_UPSTREAM", func(c *Config, v string) { c.Upstream = v }},
	{"REPLAYGATE_ADMIN_LISTEN", func(c *Config, v string) { c.AdminListen = v }},
	{"REPLAYGATE_ADMIN_TOKEN", func(c *Config, v string) { c.setAdminToken(v) }},
	{"REPLAYGATE_DATA_DIR", func(c *Config, v string) { c.DataDir = v }},
	{"REPLAYGATE_CONSENT_SECRET", func(c *Config, v string) { c.setConsentSecret(v) }},
	{"REPLAYGATE_LOG_LEVEL", func(c *Config, v string) { c.Log.Level = v }},
}

// ApplyEnv overrides fields from REPLAYGATE_* variables that are set and not
// empty. env is usually os.Getenv.
func (c *Config) ApplyEnv(env func(string) string) {
	if env == nil {
		return
	}
	for _, e := range envNames {
		if v := env(e.name); v != "" {
			e.apply(c, v)
		}
	}
}

// Validate checks every field and returns all problems found, each naming
// its field and the fix.
func (c Config) Validate() error {
	var errs []error
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%w", field, err))
		}
	}
	if c.Upstream == "" {
		add("upstream", errors.New(`: is required, e.g. "http://127.0.0.1:3000"`))
	} else if _, err := ParseUpstream(c.Upstream); err != nil {
		add("upstream", fmt.Errorf(": %w", err))
	}
	add("listen", checkAddr(c.Listen))
	add("admin_listen", checkAddr(c.AdminListen))
	if c.DataDir == "" {
		add("data_dir", errors.New(": must not be empty"))
	}
	if !strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") || len(c.Prefix) < 2 ||
		strings.ContainsAny(c.Prefix, "?#% ") {
		add("prefix", fmt.Errorf(": %q must start with / and not end with /, e.g. \"/__replay\"", c.Prefix))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", fmt.Errorf(": %q must be one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		add("log.format", fmt.Errorf(": %q must be json or console", c.Log.Format))
	}
	errs = append(errs, prefixed("proxy.", c.Proxy.Validate())...)
	errs = append(errs, c.Sections.validate()...)
	return errors.Join(errs...)
}

// ParseUpstream checks that s is an absolute http(s) URL without query or
// fragment and returns it.
func ParseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q must be an http or https URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%q must not carry credentials, a query or a fragment", s)
	}
	return u, nil
}

func checkAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf(": %q must be host:port, e.g. \":8080\" or \"127.0.0.1:9090\"", addr)
	}
	return nil
}

// Redacted returns the configuration as YAML with every field marked
// `redact:"true"` replaced by "[redacted]" when set.
func (c Config) Redacted() ([]byte, error) {
	v := reflect.ValueOf(&c).Elem()
	redact(v)
	return yaml.Marshal(c)
}

func redact(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if t.Field(i).Tag.Get("redact") != "true" && !isSecretName(t.Field(i).Name) &&
				f.Kind() == reflect.String && isURLName(t.Field(i).Name) {
				f.SetString(redactURLs(f.String()))
				continue
			}
			if t.Field(i).Tag.Get("redact") == "true" || isSecretName(t.Field(i).Name) {
				switch f.Kind() {
				case reflect.String:
					if f.String() != "" {
						f.SetString("[redacted]")
					}
					continue
				case reflect.Slice:
					if f.Len() > 0 && f.Type().Elem().Kind() == reflect.String {
						s := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
						for j := 0; j < f.Len(); j++ {
							s.Index(j).SetString("[redacted]")
						}
						f.Set(s)
					}
					continue
				}
			}
			redact(f)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			redact(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			redact(v.Index(i))
		}
	case reflect.Map:
		// Maps of plain values carry no secrets in this config.
	}
}

// isURLName reports fields that hold URLs (URL, Upstream), which may carry
// credentials in their user info or query.
func isURLName(name string) bool {
	return name == "Upstream" || strings.HasSuffix(name, "URL")
}

// redactURLs hides the user info, query and fragment of each absolute URL
// in a comma-separated list (a NATS server list, whose entries may lack a
// scheme), keeping scheme, host and path: enough to see where a forwarder
// goes, nothing to log in with. A path (the notice link) stays as it is.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "/") {
			continue
		}
		raw := p
		if !strings.Contains(p, "://") {
			raw = "nats://" + p // as nats.go reads "user:pass@host:4222"
		}
		u, err := url.Parse(raw)
		if err != nil || (u.User == nil && strings.Contains(u.Host+u.Opaque, "@")) {
			parts[i] = "redacted"
			continue
		}
		if u.User != nil {
			u.User = url.User("redacted")
		}
		if u.RawQuery != "" {
			u.RawQuery = "redacted"
		}
		u.Fragment, u.RawFragment = "", ""
		out := u.String()
		if raw != p {
			out = strings.TrimPrefix(out, "nats://")
		}
		parts[i] = out
	}
	return strings.Join(parts, ",")
}

// isSecretName reports fields whose names mark them as secrets (Token,
// Secret, PreviousSecrets, HashKey, DSN…), so that a section added later is
// redacted without remembering a tag.
func isSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "token", "password", "hashkey", "dsn", "privatekey"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
