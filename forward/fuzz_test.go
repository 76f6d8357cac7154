package forward

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzParseDSN: never panics; an accepted DSN yields a parseable envelope
// endpoint and a public DSN without the secret.
func FuzzParseDSN(f *testing.F) {
	f.Add("https://abc@o1.ingest.sentry.io/42")
	f.Add("http://k:s@h:9000/p/7")
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := parseDSN(raw)
		if err != nil {
			return
		}
		u, err := url.Parse(d.endpoint)
		if err != nil || !strings.HasSuffix(u.Path, "/envelope/") {
			t.Fatalf("endpoint %q from %q", d.endpoint, raw)
		}
		if p, err := url.Parse(d.public); err != nil || p.User == nil {
			t.Fatalf("public dsn %q from %q", d.public, raw)
		} else if _, has := p.User.Password(); has {
			t.Fatalf("public dsn %q keeps the secret", d.public)
		}
	})
}

// FuzzRetryAfter: never panics and never returns a negative delay.
func FuzzRetryAfter(f *testing.F) {
	f.Add("120", "60:replay:organization, 10::project")
	f.Add("Wed, 21 Oct 2026 07:28:00 GMT", "x:y:z")
	f.Fuzz(func(t *testing.T, ra, limits string) {
		h := http.Header{}
		h.Set("Retry-After", ra)
		h.Set("X-Sentry-Rate-Limits", limits)
		if d := retryAfter(h, time.Unix(1_800_000_000, 0)); d < 0 {
			t.Fatalf("negative delay %v", d)
		}
	})
}
