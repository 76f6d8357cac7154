package inject

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
)

const (
	headerCSP           = "Content-Security-Policy"
	headerCSPReportOnly = "Content-Security-Policy-Report-Only"
)

// cspEdit is the planned change to a response's CSP headers. Nothing is
// written to the response until the whole plan is known to be acceptable.
type cspEdit struct {
	enforced   []string // new Content-Security-Policy values
	reportOnly []string // new Content-Security-Policy-Report-Only values
	nonce      string   // "" when no policy got a nonce
	blocked    bool     // an enforced policy forbids every script
}

// cspPolicy holds the parts of the configuration the CSP edit needs.
type cspPolicy struct {
	ourSource    string // source added where a nonce cannot be: 'self' or origin+prefix+"/"
	overrideNone bool
}

// newNonce returns 128 random bits in base64url, a valid CSP nonce.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// plan computes the CSP edit for header h. nonce is only generated when a
// policy needs one.
func (cp cspPolicy) plan(h http.Header) cspEdit {
	var e cspEdit
	enf, ro := h.Values(headerCSP), h.Values(headerCSPReportOnly)
	if len(enf) == 0 && len(ro) == 0 {
		return e
	}
	nonce := newNonce()
	used := false
	for _, v := range enf {
		nv, u, blocked := cp.rewriteValue(v, nonce, true)
		if blocked {
			return cspEdit{blocked: true}
		}
		used = used || u
		e.enforced = append(e.enforced, nv)
	}
	for _, v := range ro {
		nv, u, _ := cp.rewriteValue(v, nonce, false)
		used = used || u
		e.reportOnly = append(e.reportOnly, nv)
	}
	if used {
		e.nonce = nonce
	}
	return e
}

// apply writes the planned values into h.
func (e cspEdit) apply(h http.Header) {
	if e.enforced != nil {
		h[headerCSP] = e.enforced
	}
	if e.reportOnly != nil {
		h[headerCSPReportOnly] = e.reportOnly
	}
}

// rewriteValue rewrites one header value, which may hold several
// comma-separated policies. Unchanged policies keep their exact text.
func (cp cspPolicy) rewriteValue(v, nonce string, enforced bool) (out string, usedNonce, blocked bool) {
	policies := strings.Split(v, ",")
	changed := false
	for i, p := range policies {
		np, ch, u, b := cp.rewritePolicy(p, nonce, enforced)
		if b {
			return v, false, true
		}
		if ch {
			policies[i] = np
			changed = true
		}
		usedNonce = usedNonce || u
	}
	if !changed {
		return v, usedNonce, false
	}
	for i := range policies {
		policies[i] = strings.TrimSpace(policies[i])
	}
	return strings.Join(policies, ", "), usedNonce, false
}

type directive struct {
	name    string // lower case
	sources []string
	text    string // original text, trimmed
	changed bool
}

func (d directive) String() string {
	if !d.changed {
		return d.text
	}
	if len(d.sources) == 0 {
		return d.name
	}
	return d.name + " " + strings.Join(d.sources, " ")
}

// rewritePolicy edits one serialized policy.
func (cp cspPolicy) rewritePolicy(p, nonce string, enforced bool) (out string, changed, usedNonce, blocked bool) {
	var ds []directive
	for _, raw := range strings.Split(p, ";") {
		t := strings.TrimSpace(raw)
		if t == "" {
			continue
		}
		f := strings.Fields(t)
		ds = append(ds, directive{name: strings.ToLower(f[0]), sources: f[1:], text: t})
	}
	find := func(name string) int {
		for i := range ds { // the first occurrence wins, later ones are ignored by browsers
			if ds[i].name == name {
				return i
			}
		}
		return -1
	}

	// Scripts: script-src-elem, then script-src, then default-src. Both
	// element and plain script directives get the nonce so that browsers
	// without script-src-elem, and the recorder the gate loads, pass.
	elem, src, def := find("script-src-elem"), find("script-src"), find("default-src")
	if elem >= 0 {
		if b := cp.script(&ds[elem], nonce, &usedNonce); b && enforced {
			return p, false, false, true
		}
	}
	if src >= 0 {
		if b := cp.script(&ds[src], nonce, &usedNonce); b && enforced {
			return p, false, false, true
		}
	} else if def >= 0 {
		// Leave default-src alone (it governs images, styles, frames…)
		// and add an explicit script-src derived from it.
		d := directive{name: "script-src", sources: append([]string(nil), ds[def].sources...)}
		if b := cp.script(&d, nonce, &usedNonce); b && enforced {
			return p, false, false, true
		}
		if d.changed {
			ds = append(ds, d)
		}
	}

	// Connections: connect-src, then default-src.
	if c := find("connect-src"); c >= 0 {
		cp.connect(&ds[c])
	} else if def >= 0 {
		d := directive{name: "connect-src", sources: append([]string(nil), ds[def].sources...)}
		cp.connect(&d)
		if d.changed {
			ds = append(ds, d)
		}
	}

	for _, d := range ds {
		changed = changed || d.changed
	}
	if !changed {
		return p, false, usedNonce, false
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; "), true, usedNonce, false
}

// script lets our script tag through directive d. It reports blocked when
// d is 'none' and the configuration leaves such pages alone.
func (cp cspPolicy) script(d *directive, nonce string, usedNonce *bool) (blocked bool) {
	if isNone(d.sources) {
		if !cp.overrideNone {
			return true
		}
		d.sources = []string{"'nonce-" + nonce + "'"}
		d.changed = true
		*usedNonce = true
		return false
	}
	var inline, dynamic, nonceOrHash bool
	for _, s := range d.sources {
		l := strings.ToLower(s)
		switch {
		case l == "'unsafe-inline'":
			inline = true
		case l == "'strict-dynamic'":
			dynamic = true
		case strings.HasPrefix(l, "'nonce-") || strings.HasPrefix(l, "'sha256-") ||
			strings.HasPrefix(l, "'sha384-") || strings.HasPrefix(l, "'sha512-"):
			nonceOrHash = true
		}
	}
	if inline && !dynamic && !nonceOrHash {
		// A nonce here would switch 'unsafe-inline' off and break the
		// site's inline scripts: allow our source instead.
		if !cp.allows(d.sources) {
			d.sources = append(d.sources, cp.ourSource)
			d.changed = true
		}
		return false
	}
	d.sources = append(d.sources, "'nonce-"+nonce+"'")
	d.changed = true
	*usedNonce = true
	return false
}

// connect makes sure directive d lets the gate reach {prefix}/consent and
// {prefix}/ingest.
func (cp cspPolicy) connect(d *directive) {
	if isNone(d.sources) {
		d.sources = []string{cp.ourSource}
		d.changed = true
		return
	}
	if cp.allows(d.sources) {
		return
	}
	d.sources = append(d.sources, cp.ourSource)
	d.changed = true
}

// allows reports whether sources already admit same-origin requests to
// our prefix.
func (cp cspPolicy) allows(sources []string) bool {
	for _, s := range sources {
		if s == "*" || strings.EqualFold(s, "'self'") || s == cp.ourSource {
			return true
		}
	}
	return false
}

func isNone(sources []string) bool {
	return len(sources) == 0 || (len(sources) == 1 && strings.EqualFold(sources[0], "'none'"))
}
