package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trust decides which peers' X-Forwarded-* headers are believed.
type Trust struct {
	prefixes []netip.Prefix
}

// NewTrust parses a list of addresses or CIDRs.
func NewTrust(list []string) (Trust, error) {
	p, err := parsePrefixes(list)
	return Trust{prefixes: p}, err
}

// peer returns the address of the directly connected peer.
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// Trusted reports whether the direct peer of r is a trusted proxy.
func (t Trust) Trusted(r *http.Request) bool {
	a := peer(r)
	if !a.IsValid() {
		return false
	}
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IsHTTPS reports whether the visitor reached us over HTTPS: TLS on our
// listener, or X-Forwarded-Proto https from a trusted proxy.
func (t Trust) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if t.Trusted(r) {
		return strings.EqualFold(firstValue(r.Header.Get("X-Forwarded-Proto")), "https")
	}
	return false
}

// ClientIP returns the visitor's address: the nearest untrusted hop of
// X-Forwarded-For when the peer is trusted, else the peer.
func (t Trust) ClientIP(r *http.Request) netip.Addr {
	a := peer(r)
	if !t.Trusted(r) {
		return a
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		h = h.Unmap()
		if !t.contains(h) {
			return h
		}
		a = h
	}
	return a
}

func (t Trust) contains(a netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// setForwarded writes X-Forwarded-For/-Proto/-Host on out (the upstream
// request) from the visitor's request in.
func (t Trust) setForwarded(out, in *http.Request) {
	trusted := t.Trusted(in)
	client := peer(in)
	prior := in.Header.Values("X-Forwarded-For")
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	host := in.Host
	if !trusted {
		prior = nil
		out.Header.Del("Forwarded")
	} else {
		if p := firstValue(in.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			proto = p
		}
		if h := firstValue(in.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	if client.IsValid() {
		xff := client.String()
		if len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + xff
		}
		out.Header.Set("X-Forwarded-For", xff)
	} else {
		out.Header.Del("X-Forwarded-For")
	}
	out.Header.Set("X-Forwarded-Proto", proto)
	out.Header.Set("X-Forwarded-Host", host)
}

func firstValue(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// hopHeaders are removed in both directions (RFC 9110 section 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders deletes hop-by-hop headers and those named in Connection.
// With keepUpgrade, a WebSocket handshake's Connection: Upgrade and Upgrade
// survive (the engine needs them end to end).
func removeHopHeaders(h http.Header, keepUpgrade bool) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" || (keepUpgrade && strings.EqualFold(name, "Upgrade")) {
				continue
			}
			h.Del(name)
		}
	}
	for _, name := range hopHeaders {
		if keepUpgrade && (name == "Connection" || name == "Upgrade") {
			continue
		}
		h.Del(name)
	}
	if keepUpgrade {
		h.Set("Connection", "Upgrade")
	}
}

// isUpgrade reports a WebSocket handshake request.
func isUpgrade(h http.Header) bool {
	return headerHasToken(h, "Connection", "upgrade") && strings.EqualFold(h.Get("Upgrade"), "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
