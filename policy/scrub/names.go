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

// keyKind classifies object keys the scanner treats specially.
type keyKind uint8

const (
	keyOther        keyKind = iota // unknown: run the detectors and the sensitive-key check
	keyCommon                      // rrweb format or common attribute name: no personal data
	keyType                        // "type": event type, or an input's type attribute
	keyTimestamp                   // "timestamp"
	keyData                        // "data"
	keyHref                        // "href"
	keyName                        // "name" or "id": may name a secret form field
	keyAutocomplete                // "autocomplete"
	keyValue                       // "value" or "content": a form field's value
	keySource                      // "source": an incremental event's kind (common otherwise)
)

// classifyKey looks k up among the keys of the rrweb event format and
// common attribute names, which hold no personal data and are not
// sensitive; one switch per key keeps the per-key cost low.
func classifyKey(k []byte) keyKind {
	switch string(k) {
	case "type":
		return keyType
	case "timestamp":
		return keyTimestamp
	case "data":
		return keyData
	case "href":
		return keyHref
	case "name", "id":
		return keyName
	case "autocomplete":
		return keyAutocomplete
	case "value", "content":
		return keyValue
	case "source":
		return keySource
	case "node", "childNodes", "tagName",
		"attributes", "textContent", "isStyle", "isSVG", "rootId",
		"publicId", "systemId", "width", "height", "initialOffset",
		"top", "left", "positions", "x", "y", "timeOffset", "adds",
		"removes", "texts", "parentId", "nextId", "previousId", "text",
		"isChecked", "userTriggered", "tag", "payload", "plugin", "level",
		"trace", "class", "style", "src", "rel", "lang", "alt",
		"title", "role", "_cssText", "d", "fill", "viewBox", "for", "method",
		"url", "status", "index", "rule", "styleId", "styleSheetId", "set",
		"remove", "property", "priority", "media", "charset", "action",
		"placeholder", "aria-label", "aria-hidden", "target", "loading",
		"decoding", "srcset", "sizes", "rr_width", "rr_height", "rr_dataURL",
		"pointerType", "isAttachIframe", "needBlock", "isCustom":
		return keyCommon
	}
	return keyOther
}

// commonKey reports keys the detectors and the sensitive-key check skip.
func commonKey(k []byte) bool { return classifyKey(k) != keyOther }

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
