package scrub

import "bytes"

// maxName bounds how much of a key or parameter name is inspected.
const maxName = 64

// normalizeName appends the lower-cased ASCII letters and digits of b to dst
// (at most maxName of them): "X-Api_Key" and "xApiKey" both become "xapikey".
func normalizeName(dst, b []byte) []byte {
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			continue
		}
		if len(dst) == maxName {
			break
		}
		dst = append(dst, c)
	}
	return dst
}

// commonKey reports keys of the rrweb event format and common attribute
// names, which hold no personal data and are not sensitive keys; skipping
// the detectors for them keeps the per-key cost low.
func commonKey(k []byte) bool {
	switch string(k) {
	case "type", "data", "timestamp", "node", "childNodes", "id", "tagName",
		"attributes", "textContent", "isStyle", "isSVG", "rootId", "name",
		"publicId", "systemId", "href", "width", "height", "initialOffset",
		"top", "left", "source", "positions", "x", "y", "timeOffset", "adds",
		"removes", "texts", "parentId", "nextId", "previousId", "value", "text",
		"isChecked", "userTriggered", "tag", "payload", "plugin", "level",
		"trace", "class", "style", "src", "rel", "content", "lang", "alt",
		"title", "role", "_cssText", "d", "fill", "viewBox", "for", "method",
		"url", "status", "index", "rule", "styleId", "styleSheetId", "set",
		"remove", "property", "priority", "media", "charset", "action",
		"placeholder", "aria-label", "aria-hidden", "target", "loading",
		"decoding", "srcset", "sizes", "rr_width", "rr_height", "rr_dataURL",
		"pointerType", "isAttachIframe", "needBlock", "isCustom":
		return true
	}
	return false
}

// sensitiveWords are substrings of normalized names that mark secrets, keyed
// by their first letter so a name is checked in one pass.
var sensitiveWords = [26][]string{
	'a' - 'a': {"apikey", "accesskey", "authorization", "authtoken", "authkey"},
	'b' - 'a': {"bearer"},
	'c' - 'a': {"credential", "cookie", "csrf", "cardnumber", "ccnumber", "clientsecret"},
	'p' - 'a': {"password", "passwd", "passphrase", "privatekey"},
	's' - 'a': {"secret", "sessionid", "sessionkey", "signature"},
	't' - 'a': {"token"},
	'x' - 'a': {"xsrf"},
}

func containsSensitiveWord(n []byte) bool {
	for i, c := range n {
		if c < 'a' || c > 'z' {
			continue
		}
		for _, w := range sensitiveWords[c-'a'] {
			if len(n)-i >= len(w) && string(n[i:i+len(w)]) == w {
				return true
			}
		}
	}
	return false
}

// sensitiveKey reports whether values under JSON key k are secrets.
func (sc *Scanner) sensitiveKey(k []byte) bool {
	if len(k) < 3 {
		return false
	}
	var buf [maxName]byte
	n := normalizeName(buf[:0], k)
	switch string(n) {
	case "auth", "ssn", "pin", "otp", "cvv", "cvc", "sid", "pwd", "pass", "session", "jwt":
		return true
	}
	if containsSensitiveWord(n) {
		return true
	}
	for _, e := range sc.extraKeys {
		if bytes.Contains(n, e) {
			return true
		}
	}
	return false
}

// sensitiveParam reports whether value v of URL parameter p is a secret.
// The generic names "key" and "code" also name keyboard keys and status
// codes, so their values must look generated: at least 6 bytes with a digit.
func (sc *Scanner) sensitiveParam(p, v []byte) bool {
	var buf [maxName]byte
	n := normalizeName(buf[:0], p)
	switch string(n) {
	case "key", "code":
		return len(v) >= 6 && bytes.ContainsAny(v, "0123456789")
	case "email", "mail", "sig", "sid", "pass", "pwd", "pin", "otp", "ssn",
		"auth", "jwt", "session", "phone", "tel":
		return true
	}
	if containsSensitiveWord(n) || bytes.Contains(n, []byte("email")) {
		return true
	}
	for _, e := range sc.extraParams {
		if bytes.Equal(n, e) {
			return true
		}
	}
	return false
}

// attrSensitive reports whether attribute key=v marks its element's value
// as secret: a secret-sounding name or id, a password or hidden input, or
// any autofill field (autocomplete="cc-number", "email", "one-time-code"…).
func (sc *Scanner) attrSensitive(key, v []byte) bool {
	switch string(key) {
	case "type":
		return bytes.EqualFold(v, []byte("password")) || bytes.EqualFold(v, []byte("hidden"))
	case "autocomplete":
		v = bytes.TrimSpace(v)
		return len(v) > 0 && !bytes.EqualFold(v, []byte("on")) && !bytes.EqualFold(v, []byte("off"))
	}
	return sc.sensitiveKey(v)
}
