package policy

import (
	"net/http"
	"net/url"
	"strings"
)

// SameOrigin reports whether r was sent by a page of the site itself: its
// Origin header names the request's Host, or, without Origin, the browser
// says Sec-Fetch-Site: same-origin. A request with neither signal is refused:
// every browser that runs the gate sends at least one of them on a POST.
func SameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return site == "same-origin"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	return strings.EqualFold(stripDefaultPort(u.Scheme, u.Host), stripDefaultPort(u.Scheme, r.Host))
}

// stripDefaultPort drops the scheme's default port, so "a.example:443" and
// "a.example" compare equal under https. The Host a TLS-terminating proxy
// forwards carries no scheme, so the Origin's scheme decides.
func stripDefaultPort(scheme, host string) string {
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return host[:len(host)-4]
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return host[:len(host)-3]
	}
	return host
}
