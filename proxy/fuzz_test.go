package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzForwardedHeaders feeds arbitrary X-Forwarded-* and Connection
// headers through the trust and hop-by-hop logic: it never panics, the
// client address is always a valid address, and no hop-by-hop header (nor
// one named in Connection) survives.
func FuzzForwardedHeaders(f *testing.F) {
	f.Add("203.0.113.9, 10.0.0.1", "https", "shop.example", "close, X-Hop", true)
	f.Add("::ffff:1.2.3.4,,garbage", "HTTPS,http", "", "keep-alive", false)
	f.Add("", "", "", "Upgrade", true)
	trust, _ := NewTrust([]string{"127.0.0.0/8", "10.0.0.0/8"})
	f.Fuzz(func(t *testing.T, xff, proto, host, conn string, upgrade bool) {
		in := httptest.NewRequest("GET", "http://example.test/", nil)
		in.RemoteAddr = "127.0.0.1:5555"
		in.Header.Set("X-Forwarded-For", xff)
		in.Header.Set("X-Forwarded-Proto", proto)
		in.Header.Set("X-Forwarded-Host", host)
		in.Header.Set("Connection", conn)
		for _, name := range strings.Split(conn, ",") {
			if name = strings.TrimSpace(name); name != "" && !strings.ContainsAny(name, " \t\r\n:") {
				in.Header.Set(name, "v")
			}
		}
		if a := trust.ClientIP(in); !a.IsValid() {
			t.Fatalf("client IP invalid for XFF %q", xff)
		}
		out := in.Clone(in.Context())
		removeHopHeaders(out.Header, upgrade)
		trust.setForwarded(out, in)
		for _, h := range hopHeaders {
			if upgrade && (h == "Connection" || h == "Upgrade") {
				continue
			}
			if out.Header.Get(h) != "" {
				t.Fatalf("hop-by-hop %s survived", h)
			}
		}
		for _, name := range strings.Split(conn, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if name == "" || (upgrade && name == "Upgrade") || strings.HasPrefix(name, "X-Forwarded-") {
				continue
			}
			if out.Header.Get(name) != "" {
				t.Fatalf("header %s named in Connection survived", name)
			}
		}
		if p := out.Header.Get("X-Forwarded-Proto"); p != "http" && p != "https" {
			t.Fatalf("X-Forwarded-Proto %q", p)
		}
	})
}
