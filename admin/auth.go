package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenOK compares a presented token with the configured one in constant
// time (both are hashed first, so the length does not leak either).
func (a *api) tokenOK(presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], a.token[:]) == 1
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// requireToken lets requests with the bearer token through and answers 401
// otherwise. There is deliberately no cookie: a browser never sends the
// token on its own, so cross-site requests cannot use it (no CSRF).
func (a *api) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := bearer(r); !ok || !a.tokenOK(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="replaygate admin"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token; send Authorization: Bearer <token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}
