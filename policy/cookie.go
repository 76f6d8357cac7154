package policy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Decision is a visitor's answer to the consent notice.
type Decision string

const (
	// DecisionGranted allows recording.
	DecisionGranted Decision = "granted"
	// DecisionDenied refuses recording; after a grant it is a withdrawal.
	DecisionDenied Decision = "denied"
	// DecisionNone means no valid, current decision is known.
	DecisionNone Decision = "none"
)

// Cookie names.
const (
	// CookieName is the signed, HttpOnly consent cookie: the only consent
	// state the server trusts.
	CookieName = "rg_consent"
	// StateCookieName is the script-readable companion cookie
	// "<decision>.<policyVersion>" that lets the gate skip a round trip. It
	// carries no secret and the server never reads it.
	StateCookieName = "rg_consent_state"
)

// maxCookieLen bounds what ParseCookie looks at; a real value is ~150 bytes.
const maxCookieLen = 512

// Cookie errors.
var (
	ErrCookieMalformed = errors.New("policy: consent cookie malformed")
	ErrCookieSignature = errors.New("policy: consent cookie signature invalid")
)

// Cookie is a signed consent decision as carried by the visitor.
type Cookie struct {
	// Subject is the random 128-bit visitor id, 32 lowercase hex digits. It
	// survives later decisions so a withdrawal can erase the subject.
	Subject string
	// Decision is granted or denied.
	Decision Decision
	// PolicyVersion is the policy version the decision was given under.
	PolicyVersion string
	// IssuedAt and ExpiresAt bound the decision (millisecond precision).
	IssuedAt, ExpiresAt time.Time
}

// NewSubject returns a fresh random subject id.
func NewSubject() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

var cookieB64 = base64.RawURLEncoding.Strict()

// payload is the signed text: "1|subject|g|issuedMs|expiresMs|policyVersion".
func (c Cookie) payload() []byte {
	d := "d"
	if c.Decision == DecisionGranted {
		d = "g"
	}
	b := make([]byte, 0, 96)
	b = append(b, "1|"...)
	b = append(b, c.Subject...)
	b = append(b, '|')
	b = append(b, d...)
	b = append(b, '|')
	b = strconv.AppendInt(b, c.IssuedAt.UnixMilli(), 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, c.ExpiresAt.UnixMilli(), 10)
	b = append(b, '|')
	b = append(b, c.PolicyVersion...)
	return b
}

func sign(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)
}

// Encode returns the cookie value signed with key:
// base64url(payload) "." base64url(HMAC-SHA256(key, payload)).
func (c Cookie) Encode(key []byte) string {
	p := c.payload()
	return cookieB64.EncodeToString(p) + "." + cookieB64.EncodeToString(sign(key, p))
}

// cookieChars reports whether v holds only base64url characters and dots.
// The base64 decoder skips CR and LF, so without this check a value with
// line breaks in it would be accepted as a second spelling of the cookie.
func cookieChars(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ParseCookie checks value's signature against keys (the current key first,
// then previous ones) and decodes it. It does not judge expiry, policy
// version or withdrawal: that is Consent's job.
func ParseCookie(value string, keys [][]byte) (Cookie, error) {
	if len(value) == 0 || len(value) > maxCookieLen || !cookieChars(value) {
		return Cookie{}, ErrCookieMalformed
	}
	dot := strings.IndexByte(value, '.')
	if dot < 0 {
		return Cookie{}, ErrCookieMalformed
	}
	payload, err := cookieB64.DecodeString(value[:dot])
	if err != nil {
		return Cookie{}, ErrCookieMalformed
	}
	mac, err := cookieB64.DecodeString(value[dot+1:])
	if err != nil || len(mac) != sha256.Size {
		return Cookie{}, ErrCookieMalformed
	}
	signed := false
	for _, k := range keys {
		if hmac.Equal(mac, sign(k, payload)) {
			signed = true
			break
		}
	}
	if !signed {
		return Cookie{}, ErrCookieSignature
	}
	c, ok := parsePayload(string(payload))
	if !ok {
		// A valid signature over a payload we cannot read: only a key shared
		// with a different, incompatible writer could produce it.
		return Cookie{}, ErrCookieMalformed
	}
	return c, nil
}

func parsePayload(p string) (Cookie, bool) {
	f := strings.SplitN(p, "|", 6)
	if len(f) != 6 || f[0] != "1" || !isSubject(f[1]) {
		return Cookie{}, false
	}
	var c Cookie
	c.Subject = f[1]
	switch f[2] {
	case "g":
		c.Decision = DecisionGranted
	case "d":
		c.Decision = DecisionDenied
	default:
		return Cookie{}, false
	}
	issued, ok1 := parseMillis(f[3])
	expires, ok2 := parseMillis(f[4])
	if !ok1 || !ok2 || expires < issued || !policyVersionRE.MatchString(f[5]) {
		return Cookie{}, false
	}
	c.IssuedAt = time.UnixMilli(issued)
	c.ExpiresAt = time.UnixMilli(expires)
	c.PolicyVersion = f[5]
	return c, true
}

// parseMillis accepts only the canonical decimal form Encode writes.
func parseMillis(s string) (int64, bool) {
	if s == "" || len(s) > 15 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// isSubject reports whether s is 32 lowercase hex digits.
func isSubject(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'f') {
			return false
		}
	}
	return true
}
