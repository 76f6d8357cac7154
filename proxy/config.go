package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config tunes the reverse proxy. The zero value is not useful; start from
// DefaultConfig.
type Config struct {
	// TrustedProxies lists addresses or CIDRs whose X-Forwarded-* headers are
	// believed and appended to; from anyone else they are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// PreserveHost sends the visitor's Host header upstream; when false the
	// upstream URL's host is sent.
	PreserveHost bool `yaml:"preserve_host"`
	// DialTimeout bounds connecting to the upstream.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// TLSHandshakeTimeout bounds the TLS handshake with an https upstream.
	TLSHandshakeTimeout time.Duration `yaml:"tls_handshake_timeout"`
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers; past it the visitor gets 504.
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout"`
	// IdleConnTimeout closes idle upstream connections.
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout"`
	// MaxIdleConnsPerHost keeps this many idle upstream connections.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// ReadHeaderTimeout bounds reading a visitor's request headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle visitor keep-alive connections.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long in-flight requests may drain on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TLSCertFile and TLSKeyFile, when both set, make the public listener
	// serve HTTPS (and HTTP/2).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		TrustedProxies:        []string{"127.0.0.1/8", "::1/128"},
		PreserveHost:          true,
		DialTimeout:           5 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   256,
		ReadHeaderTimeout:     10 * time.Second,
		IdleTimeout:           120 * time.Second,
		ShutdownTimeout:       15 * time.Second,
	}
}

// Validate reports the first problems found, naming fields.
func (c Config) Validate() error {
	var errs []error
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted_proxies: %w", err))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"dial_timeout", c.DialTimeout}, {"tls_handshake_timeout", c.TLSHandshakeTimeout},
		{"response_header_timeout", c.ResponseHeaderTimeout}, {"idle_conn_timeout", c.IdleConnTimeout},
		{"read_header_timeout", c.ReadHeaderTimeout}, {"idle_timeout", c.IdleTimeout},
		{"shutdown_timeout", c.ShutdownTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %s must be positive, e.g. \"10s\"", d.name, d.v))
		}
	}
	if c.MaxIdleConnsPerHost < 1 {
		errs = append(errs, fmt.Errorf("max_idle_conns_per_host: %d must be at least 1", c.MaxIdleConnsPerHost))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls_cert_file: tls_cert_file and tls_key_file must be set together"))
	}
	return errors.Join(errs...)
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
