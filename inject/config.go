package inject

import (
	"fmt"
	"net/url"
	"strings"
)

// Config is the "inject" section of the replaygate configuration.
type Config struct {
	// Enabled turns injection on. When false every response passes through.
	Enabled bool `yaml:"enabled"`
	// Statuses lists the response status codes that get the markup.
	Statuses []int `yaml:"statuses"`
	// ExcludePaths are URL path prefixes (plain prefixes, no globs) whose
	// responses are never rewritten, e.g. "/admin/" or "/embed".
	ExcludePaths []string `yaml:"exclude_paths"`
	// GzipLevel, DeflateLevel and BrotliLevel are the on-the-fly levels used
	// when re-encoding a rewritten response.
	GzipLevel    int `yaml:"gzip_level"`
	DeflateLevel int `yaml:"deflate_level"`
	BrotliLevel  int `yaml:"brotli_level"`
	// LowMemory makes gzip and deflate re-encoding borrow a compressor
	// from a shared pool for each write, primed with the stream's last
	// 8 KiB: about 10 KiB per in-flight response instead of 0.8–1.2 MB,
	// for some CPU and a slightly larger output (BENCH_NOTES.md).
	LowMemory bool `yaml:"low_memory"`
	// MaxHeadBytes bounds how many decoded bytes are searched for the
	// insertion point; past it the response passes through unchanged.
	MaxHeadBytes int `yaml:"max_head_bytes"`
	// UpstreamIdentity asks the upstream for uncompressed HTML on
	// navigation requests and compresses the rewritten page for the client
	// itself, which saves decoding work (see BENCH_NOTES.md).
	UpstreamIdentity bool `yaml:"upstream_identity"`
	// SpliceGzip re-encodes a gzip page that goes out gzip only up to 32
	// KiB past the insertion point and passes the rest of the upstream's
	// stream on as it is (splice.go).
	// It assumes one gzip member per body, as web servers send.
	SpliceGzip bool `yaml:"splice_gzip"`
	// OverrideScriptNone injects even when an enforced CSP forbids all
	// scripts (script-src 'none'), replacing 'none' by the nonce. By
	// default such pages are left alone: the site asked for no script.
	OverrideScriptNone bool `yaml:"override_script_none"`
	// PublicOrigin ("https://www.example.com"), when set, narrows what is
	// added to a restrictive connect-src to PublicOrigin+Prefix+"/";
	// otherwise 'self' is added.
	PublicOrigin string `yaml:"public_origin"`
	// Prefix is the public path prefix of replaygate's own endpoints
	// ("/__replay"). It is not read from YAML: the caller copies the
	// proxy's prefix here before calling New.
	Prefix string `yaml:"-"`
}

// DefaultConfig returns the configuration used when the file says nothing.
func DefaultConfig() Config {
	return Config{
		Enabled:          true,
		Statuses:         []int{200},
		GzipLevel:        1,
		DeflateLevel:     1,
		BrotliLevel:      1,
		LowMemory:        true,
		MaxHeadBytes:     256 << 10,
		UpstreamIdentity: true,
		SpliceGzip:       true,
		Prefix:           "/__replay",
	}
}

// Validate reports the first setting that cannot work, naming the field
// and the fix.
func (c Config) Validate() error {
	if c.Enabled && len(c.Statuses) == 0 {
		return fmt.Errorf("statuses: must list at least one status code, e.g. [200]")
	}
	for _, s := range c.Statuses {
		switch {
		case s < 200 || s > 599:
			return fmt.Errorf("statuses: %d must be between 200 and 599", s)
		case s == 204 || s == 205 || s == 206 || s == 304:
			return fmt.Errorf("statuses: %d never carries a full HTML body; remove it", s)
		}
	}
	for _, p := range c.ExcludePaths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("exclude_paths: %q must be a path prefix starting with /", p)
		}
	}
	if c.GzipLevel < 1 || c.GzipLevel > 9 {
		return fmt.Errorf("gzip_level: %d must be between 1 and 9", c.GzipLevel)
	}
	if c.DeflateLevel < 1 || c.DeflateLevel > 9 {
		return fmt.Errorf("deflate_level: %d must be between 1 and 9", c.DeflateLevel)
	}
	if c.BrotliLevel < 0 || c.BrotliLevel > 11 {
		return fmt.Errorf("brotli_level: %d must be between 0 and 11", c.BrotliLevel)
	}
	if c.MaxHeadBytes < 1<<10 || c.MaxHeadBytes > 4<<20 {
		return fmt.Errorf("max_head_bytes: %d must be between 1024 and 4194304", c.MaxHeadBytes)
	}
	if c.PublicOrigin != "" {
		u, err := url.Parse(c.PublicOrigin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
			strings.ContainsAny(c.PublicOrigin, " ;,'") {
			return fmt.Errorf("public_origin: %q must be an origin like https://www.example.com", c.PublicOrigin)
		}
	}
	if !strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") || strings.ContainsAny(c.Prefix, " ;,'\"<>?#") {
		return fmt.Errorf("prefix: %q must start with / and not end with /, e.g. /__replay", c.Prefix)
	}
	return nil
}
