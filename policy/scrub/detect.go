package scrub

import (
	"bytes"
	"net/netip"
)

// Built-in detector indexes, in tie-breaking order.
const (
	detPrivateKey = iota
	detJWT
	detBearer
	detAPIKey
	detURLCreds
	detURLParam
	detEmail
	detCreditCard
	detIBAN
	detSSN
	detIPv6
	detIPv4
	detSensitive
	numBuiltin
)

var builtinNames = [numBuiltin]string{
	detPrivateKey: "privatekey",
	detJWT:        "jwt",
	detBearer:     "bearer",
	detAPIKey:     "apikey",
	detURLCreds:   "urlcreds",
	detURLParam:   "urlparam",
	detEmail:      "email",
	detCreditCard: "creditcard",
	detIBAN:       "iban",
	detSSN:        "ssn",
	detIPv6:       "ipv6",
	detIPv4:       "ipv4",
	detSensitive:  "sensitivekey",
}

// Character-class bits of strClass. The low bit counts digits.
const (
	clDigit uint16 = 1 << iota
	clAt
	clColon
	clDot
	clEq
	clDash
	clUnder
	clCapA
	clSpace
	clUpper
	clSlash
	clB    // 'b' or 'B' (Bearer)
	clStop // '"', '\\', control characters and non-ASCII bytes end the fast loop
)

// strClass classifies bytes for the string scan and its pre-filter.
var strClass = func() (t [256]uint16) {
	for c := 0; c < 256; c++ {
		switch {
		case c == '"' || c == '\\' || c < 0x20 || c >= 0x80:
			t[c] = clStop
		case c >= '0' && c <= '9':
			t[c] = clDigit
		case c >= 'A' && c <= 'Z':
			t[c] = clUpper
		}
	}
	t['@'] |= clAt
	t[':'] |= clColon
	t['.'] |= clDot
	t['='] |= clEq
	t['-'] |= clDash
	t['_'] |= clUnder
	t['A'] |= clCapA
	t[' '] |= clSpace
	t['\t'] |= clSpace
	t['\n'] |= clSpace
	t['\r'] |= clSpace
	t['\f'] |= clSpace
	t['/'] |= clSlash
	t['b'] |= clB
	t['B'] |= clB
	return t
}()

// Byte classes used by the detectors.
const (
	ctWord     uint16 = 1 << iota // [0-9A-Za-z_], as regexp's \b sees it
	ctToken                       // [A-Za-z0-9_-]: API key and JWT alphabet
	ctLocal                       // e-mail local part [A-Za-z0-9._%+-]
	ctLabel                       // domain label [A-Za-z0-9-]
	ctHex6                        // [0-9A-Fa-f:.]: IPv6 candidate alphabet
	ctUser                        // not in /?#@ whitespace "'<>: URL userinfo
	ctPName                       // [A-Za-z0-9_.\[\]-]: URL parameter name
	ctPSep                        // ?&#;, and whitespace: before a parameter name
	ctPStop                       // &#;, whitespace "'<>(): ends a parameter value
	ctB68                         // [A-Za-z0-9._~+/=-]: bearer token alphabet
	ctIBAN                        // [A-Z0-9]
	ctSpace                       // \t \n \f \r space (regexp \s)
	ctHexLower                    // [0-9a-f]: hash output
)

// hashHexLen is how many hex digits of the HMAC the hash method keeps.
const hashHexLen = 12

var ctype = func() (t [256]uint16) {
	set := func(chars string, bit uint16) {
		for i := 0; i < len(chars); i++ {
			t[chars[i]] |= bit
		}
	}
	const (
		digits = "0123456789"
		upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		lower  = "abcdefghijklmnopqrstuvwxyz"
		alnum  = digits + upper + lower
	)
	set(alnum+"_", ctWord)
	set(alnum+"_-", ctToken)
	set(alnum+"._%+-", ctLocal)
	set(alnum+"-", ctLabel)
	set(digits+"ABCDEFabcdef:.", ctHex6)
	for c := 0; c < 256; c++ {
		t[c] |= ctUser
	}
	for _, c := range []byte("/?#@\t\n\f\r \"'<>") {
		t[c] &^= ctUser
	}
	set(alnum+"_.[]-", ctPName)
	set("?&#;,\t\n\f\r ", ctPSep)
	set("&#;,\t\n\f\r \"'<>()", ctPStop)
	set(alnum+"._~+/=-", ctB68)
	set(digits+upper, ctIBAN)
	set("\t\n\f\r ", ctSpace)
	set("0123456789abcdef", ctHexLower)
	return t
}()

func isDigit(c byte) bool { return c-'0' <= 9 }
func isUpper(c byte) bool { return c-'A' < 26 }
func isWord(c byte) bool  { return ctype[c]&ctWord != 0 }
func isHex(c byte) bool {
	return isDigit(c) || (c|0x20)-'a' < 6
}

// wordAt reports whether s[i] exists and is a word character.
func wordAt(s []byte, i int) bool { return i >= 0 && i < len(s) && isWord(s[i]) }

// run returns the end of the run of class bits starting at i.
func run(s []byte, i int, bits uint16) int {
	for i < len(s) && ctype[s[i]]&bits != 0 {
		i++
	}
	return i
}

// span is one finding: s[start:end] is rewritten as detector det says.
type span struct {
	start, end int
	det        int
}

// finder collects the findings of the built-in detectors in one string.
type finder struct {
	sc     *Scanner
	spans  []span
	labels []int // scratch for domain label starts
}

func (f *finder) add(start, end, det int) {
	f.spans = append(f.spans, span{start, end, det})
}

// find runs every enabled detector whose pre-filter passes on s; fl and nd
// are the class bits and digit count of s.
func (f *finder) find(s []byte, fl uint16, nd int) {
	on := &f.sc.on
	n := len(s)
	if n >= 3 {
		if nd >= 4 && (on[detCreditCard] || on[detSSN] || on[detIPv4] || on[detIBAN]) {
			f.numeric(s,
				on[detCreditCard] && nd >= 13,
				on[detSSN] && nd >= 9 && fl&clDash != 0,
				on[detIPv4] && fl&clDot != 0,
				on[detIBAN] && fl&clUpper != 0)
		}
		if fl&clAt != 0 {
			if on[detEmail] && fl&clDot != 0 {
				f.email(s)
			}
			if on[detURLCreds] && fl&clColon != 0 && fl&clSlash != 0 {
				f.urlCreds(s)
			}
		}
		if on[detIPv6] && fl&clColon != 0 {
			f.ipv6(s)
		}
		if on[detURLParam] && fl&clEq != 0 {
			f.urlParam(s)
		}
		if n >= 15 {
			if on[detJWT] && fl&clDot != 0 {
				f.jwt(s)
			}
			if on[detBearer] && fl&clB != 0 && fl&clSpace != 0 {
				f.bearer(s)
			}
			if on[detAPIKey] && fl&(clCapA|clUnder|clDash) != 0 {
				f.apiKey(s, fl)
			}
			if on[detPrivateKey] && n >= 52 && fl&clDash != 0 {
				f.privateKey(s)
			}
		}
	}
	for i, r := range f.sc.rules {
		if r.prefix != "" && !bytes.Contains(s, []byte(r.prefix)) {
			continue
		}
		for _, m := range r.re.FindAllIndex(s, -1) {
			if m[1] > m[0] {
				f.add(m[0], m[1], numBuiltin+i)
			}
		}
	}
}

// numeric runs the detectors anchored at digit runs: credit cards, SSNs,
// IPv4 addresses and IBANs (whose check digits follow the country code).
// Each detector resumes after its previous structural match, as a regexp
// scan would.
func (f *finder) numeric(s []byte, card, ssn, ipv4, iban bool) {
	n := len(s)
	cardNext, ssnNext, ipNext, ibanNext := 0, 0, 0, 0
	i := 0
	for i < n {
		for i < n && !isDigit(s[i]) {
			i++
		}
		if i >= n {
			break
		}
		p := i
		for i < n && isDigit(s[i]) {
			i++
		}
		runEnd := i
		prevWord := wordAt(s, p-1)
		if !prevWord {
			if card && p >= cardNext {
				if end, ok := matchCard(s, p, runEnd); ok {
					cardNext = end
					if validCard(s[p:end]) {
						f.add(p, end, detCreditCard)
					}
				}
			}
			if ssn && p >= ssnNext && runEnd-p == 3 {
				if end, ok := matchSSN(s, p); ok {
					ssnNext = end
					if validSSN(s[p:end]) {
						f.add(p, end, detSSN)
					}
				}
			}
			if ipv4 && p >= ipNext && runEnd-p <= 3 && runEnd < n && s[runEnd] == '.' && (p == 0 || s[p-1] != '.') {
				end := runEnd
				for end < n && (isDigit(s[end]) || s[end] == '.') {
					end++
				}
				ipNext = end
				if e, ok := validIPv4(s, p, end); ok {
					f.add(p, e, detIPv4)
				}
			}
		}
		if iban && p-2 >= ibanNext && runEnd-p >= 2 && p >= 2 && isUpper(s[p-1]) && isUpper(s[p-2]) && !wordAt(s, p-3) {
			if end, ok := matchIBAN(s, p+2); ok {
				ibanNext = end
				if validIBAN(s[p-2 : end]) {
					f.add(p-2, end, detIBAN)
				}
			}
		}
	}
}

// digitsAt reports whether s[i:i+k] are k digits followed by a non-digit.
func digitsAt(s []byte, i, k int) bool {
	if i+k > len(s) {
		return false
	}
	for j := i; j < i+k; j++ {
		if !isDigit(s[j]) {
			return false
		}
	}
	return i+k == len(s) || !isDigit(s[i+k])
}

// matchCard matches, at the start p of a digit run ending at runEnd, one of
// `\d{13,19}`, `\d{4}S\d{4}S\d{4}S\d{4}(S\d{3})?` or `\d{4}S\d{6}S\d{4,5}`
// (S a space or dash), followed by a non-word character.
func matchCard(s []byte, p, runEnd int) (int, bool) {
	n := len(s)
	l := runEnd - p
	if l >= 13 && l <= 19 {
		return runEnd, !wordAt(s, runEnd)
	}
	if l != 4 || runEnd >= n || (s[runEnd] != ' ' && s[runEnd] != '-') {
		return 0, false
	}
	sep := s[runEnd]
	// 4-4-4-4, optionally -3.
	q := runEnd
	ok := true
	for g := 0; g < 3; g++ {
		if q >= n || s[q] != sep || !digitsAt(s, q+1, 4) {
			ok = false
			break
		}
		q += 5
	}
	if ok {
		if q+4 <= n && s[q] == sep && digitsAt(s, q+1, 3) && !wordAt(s, q+4) {
			return q + 4, true
		}
		if !wordAt(s, q) {
			return q, true
		}
	}
	// 4-6-5 or 4-6-4.
	q = runEnd
	if s[q] == sep && digitsAt(s, q+1, 6) && q+7 < n && s[q+7] == sep {
		q += 8
		if q+5 <= n && digitsAt(s, q, 5) && !wordAt(s, q+5) {
			return q + 5, true
		}
		if q+4 <= n && isDigitRun(s, q, 4) && !wordAt(s, q+4) {
			return q + 4, true
		}
	}
	return 0, false
}

func isDigitRun(s []byte, i, k int) bool {
	if i+k > len(s) {
		return false
	}
	for j := i; j < i+k; j++ {
		if !isDigit(s[j]) {
			return false
		}
	}
	return true
}

// validCard checks issuer prefix, length and Luhn digit of a card candidate.
func validCard(b []byte) bool {
	var d [19]byte
	n := 0
	for _, c := range b {
		if isDigit(c) {
			if n == len(d) {
				return false
			}
			d[n] = c - '0'
			n++
		}
	}
	if !issuerOK(d[:n]) {
		return false
	}
	sum := 0
	for i := 0; i < n; i++ {
		v := int(d[n-1-i])
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func prefixNum(d []byte, k int) int {
	v := 0
	for i := 0; i < k && i < len(d); i++ {
		v = v*10 + int(d[i])
	}
	return v
}

func issuerOK(d []byte) bool {
	n := len(d)
	p1, p2, p3, p4 := prefixNum(d, 1), prefixNum(d, 2), prefixNum(d, 3), prefixNum(d, 4)
	switch {
	case p1 == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 >= 2200 && p4 <= 2204: // Mir
		return n >= 16
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65, p2 == 62: // Discover, UnionPay
		return n >= 16
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14
	case p2 == 50, p2 >= 56 && p2 <= 58, p4 == 6304, p2 == 67: // Maestro
		return true
	}
	return false
}

// matchSSN matches `\d{3}-\d{2}-\d{4}` followed by a non-word character at
// p, where s[p:p+3] is a whole digit run.
func matchSSN(s []byte, p int) (int, bool) {
	n := len(s)
	q := p + 3
	if q >= n || s[q] != '-' || !digitsAt(s, q+1, 2) || q+3 >= n || s[q+3] != '-' || !isDigitRun(s, q+4, 4) || wordAt(s, q+8) {
		return 0, false
	}
	return q + 8, true
}

func validSSN(b []byte) bool {
	atoi := func(d []byte) int {
		v := 0
		for _, c := range d {
			v = v*10 + int(c-'0')
		}
		return v
	}
	area, group, serial := atoi(b[:3]), atoi(b[4:6]), atoi(b[7:11])
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

// validIPv4 checks the run s[p:end] of digits and dots: trailing dots are
// dropped, the rest must be a dotted quad without leading zeros, and must
// not touch a word character. It returns the end of the address.
func validIPv4(s []byte, p, end int) (int, bool) {
	e := end
	for e > p && s[e-1] == '.' {
		e--
	}
	if e == end && wordAt(s, end) {
		return 0, false
	}
	if wordAt(s, p-1) || (p > 0 && s[p-1] == '.') {
		return 0, false
	}
	parts, v, digits := 0, 0, 0
	for i := p; i <= e; i++ {
		if i == e || s[i] == '.' {
			if digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[i-digits] == '0') {
				return 0, false
			}
			parts++
			v, digits = 0, 0
			continue
		}
		v = v*10 + int(s[i]-'0')
		digits++
	}
	return e, parts == 4
}

// matchIBAN matches the BBAN after "CCdd" at q: `[A-Z0-9]{11,30}` or
// `( [A-Z0-9]{4})+( [A-Z0-9]{1,3})?`, followed by a non-word character,
// backtracking like a regexp would.
func matchIBAN(s []byte, q int) (int, bool) {
	n := len(s)
	if q >= n {
		return 0, false
	}
	if ctype[s[q]]&ctIBAN != 0 {
		r := run(s, q, ctIBAN)
		if l := r - q; l >= 11 && l <= 30 && !wordAt(s, r) {
			return r, true
		}
		return 0, false
	}
	if s[q] != ' ' {
		return 0, false
	}
	var ends [8]int
	k := 0
	pos := q
	for k < len(ends) && pos+5 <= n && s[pos] == ' ' && run(s[:pos+5], pos+1, ctIBAN) == pos+5 {
		pos += 5
		ends[k] = pos
		k++
	}
	for ; k > 0; k-- {
		e := ends[k-1]
		if e < n && s[e] == ' ' {
			m := run(s, e+1, ctIBAN) - (e + 1)
			if m > 3 {
				m = 3
			}
			for t := m; t >= 1; t-- {
				if !wordAt(s, e+1+t) {
					return e + 1 + t, true
				}
			}
		}
		if !wordAt(s, e) {
			return e, true
		}
	}
	return 0, false
}

// ibanLength maps country codes to IBAN lengths.
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16,
	"BG": 22, "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28,
	"CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
	"FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
	"GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23,
	"IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
	"LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22,
	"MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
	"SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// validIBAN checks country, length and the mod-97 check of b (spaces allowed).
func validIBAN(b []byte) bool {
	var a [34]byte
	n := 0
	for _, c := range b {
		if c == ' ' {
			continue
		}
		if n == len(a) {
			return false
		}
		a[n] = c
		n++
	}
	if l, ok := ibanLength[string(a[:2])]; !ok || l != n {
		return false
	}
	rem := 0
	for i := 0; i < n; i++ {
		c := a[(i+4)%n]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A') + 10) % 97
		}
	}
	return rem == 1
}

// email finds local@domain.tld addresses, anchored at each '@'.
func (f *finder) email(s []byte) {
	lo, i := 0, 0
	for {
		k := bytes.IndexByte(s[i:], '@')
		if k < 0 {
			return
		}
		at := i + k
		a := at
		for a > lo && ctype[s[a-1]]&ctLocal != 0 {
			a--
		}
		if a < at {
			if end, ok := f.domain(s, at+1); ok {
				// logo@2x.png is an image name, not an address.
				if !fileExtension(s[f.labels[len(f.labels)-1]:end]) {
					f.add(a, end, detEmail)
				}
				lo, i = end, end
				continue
			}
		}
		i = at + 1
	}
}

// domain matches `label(\.label)*\.[A-Za-z]{2,}` at q followed by a non-word
// character, preferring the most labels as a greedy regexp does.
func (f *finder) domain(s []byte, q int) (int, bool) {
	n := len(s)
	e := run(s, q, ctLabel)
	if e == q {
		return 0, false
	}
	f.labels = append(f.labels[:0], q)
	for e < n && s[e] == '.' {
		r := run(s, e+1, ctLabel)
		if r == e+1 {
			break
		}
		f.labels = append(f.labels, e+1)
		e = r
	}
	for j := len(f.labels) - 1; j >= 1; j-- {
		ls := f.labels[j]
		f.labels = f.labels[:j+1] // the last label is the top-level domain
		a := ls
		for a < n && (s[a]|0x20)-'a' < 26 {
			a++
		}
		if a-ls >= 2 && !wordAt(s, a) {
			return a, true
		}
	}
	return 0, false
}

// fileExtension reports top-level domains that are really file extensions.
func fileExtension(tld []byte) bool {
	var buf [8]byte
	if len(tld) > len(buf) {
		return false
	}
	for i, c := range tld {
		buf[i] = c | 0x20
	}
	switch string(buf[:len(tld)]) {
	case "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp",
		"tif", "tiff", "css", "js", "mjs", "map", "json", "woff", "woff2",
		"ttf", "otf", "mp4", "webm", "mp3", "pdf", "html", "htm":
		return true
	}
	return false
}

// urlCreds finds the userinfo of scheme://userinfo@host.
func (f *finder) urlCreds(s []byte) {
	i := 0
	for {
		k := bytes.Index(s[i:], []byte("://"))
		if k < 0 {
			return
		}
		q := i + k + 3
		j := q
		for j < len(s) && ctype[s[j]]&ctUser != 0 {
			j++
		}
		if j < len(s) && s[j] == '@' && j > q {
			if !alreadyScrubbed(s[q:j]) {
				f.add(q, j, detURLCreds)
			}
			i = j + 1
			continue
		}
		i += k + 1
	}
}

// urlParam finds values of sensitive name=value parameters (query strings,
// fragments, form bodies, "key=value" in log lines).
func (f *finder) urlParam(s []byte) {
	n := len(s)
	i := 0
	for i < n {
		k := bytes.IndexByte(s[i:], '=')
		if k < 0 {
			return
		}
		eq := i + k
		a := eq
		for a > 0 && eq-a < maxName && ctype[s[a-1]]&ctPName != 0 {
			a--
		}
		if a == eq || (a > 0 && ctype[s[a-1]]&ctPSep == 0) {
			i = eq + 1
			continue
		}
		v := eq + 1
		for v < n && ctype[s[v]]&ctPStop == 0 {
			v++
		}
		if v > eq+1 && f.sc.sensitiveParam(s[a:eq], s[eq+1:v]) && !alreadyScrubbed(s[eq+1:v]) {
			f.add(eq+1, v, detURLParam)
		}
		i = v
	}
}

// ipv6 checks each maximal run of [0-9A-Fa-f:.] that contains a colon.
func (f *finder) ipv6(s []byte) {
	n := len(s)
	i := 0
	for i < n {
		k := bytes.IndexByte(s[i:], ':')
		if k < 0 {
			return
		}
		c := i + k
		a := c
		for a > 0 && ctype[s[a-1]]&ctHex6 != 0 {
			a--
		}
		b := run(s, c, ctHex6)
		if e, ok := validIPv6(s, a, b); ok {
			f.add(a, e, detIPv6)
		}
		i = b
	}
}

func validIPv6(s []byte, a, b int) (int, bool) {
	e := b
	for e > a && s[e-1] == '.' {
		e--
	}
	if wordAt(s, a-1) || (e == b && wordAt(s, b)) {
		return 0, false
	}
	colons, hex := 0, false
	for _, c := range s[a:e] {
		if c == ':' {
			colons++
		} else if c != '.' {
			hex = true
		}
	}
	if colons < 2 || !hex {
		return 0, false
	}
	addr, err := netip.ParseAddr(string(s[a:e]))
	if err != nil || !addr.Is6() {
		return 0, false
	}
	return e, true
}

// jwt finds eyJ….eyJ….sig tokens.
func (f *finder) jwt(s []byte) {
	n := len(s)
	i := 0
	for {
		k := bytes.Index(s[i:], []byte("eyJ"))
		if k < 0 {
			return
		}
		p := i + k
		h := run(s, p+3, ctToken)
		if h < n && s[h] == '.' && bytes.HasPrefix(s[h+1:], []byte("eyJ")) {
			q := run(s, h+4, ctToken)
			if q < n && s[q] == '.' {
				end := run(s, q+1, ctToken)
				if jwtOK(s, p, end) {
					f.add(p, end, detJWT)
				}
				i = end
				continue
			}
		}
		// Every "eyJ" before h shares this header's end, so fails the same
		// way; skipping them keeps the scan linear.
		i = h
	}
}

// jwtOK accepts a JWT candidate s[p:end] that starts a token and is long
// enough to carry a header, claims and a signature.
func jwtOK(s []byte, p, end int) bool {
	return end-p >= 24 && (p == 0 || ctype[s[p-1]]&ctToken == 0)
}

// bearer finds the token after "Bearer", "bearer" or "BEARER".
func (f *finder) bearer(s []byte) {
	n := len(s)
	lower, upper := -1, -1 // next 'b' and 'B' at or after p
	for p := 0; p+6 < n; p++ {
		if lower < p && lower != -2 {
			if lower = bytes.IndexByte(s[p:], 'b'); lower >= 0 {
				lower += p
			} else {
				lower = -2
			}
		}
		if upper < p && upper != -2 {
			if upper = bytes.IndexByte(s[p:], 'B'); upper >= 0 {
				upper += p
			} else {
				upper = -2
			}
		}
		switch {
		case lower < 0 && upper < 0:
			return
		case lower < 0:
			p = upper
		case upper < 0 || lower < upper:
			p = lower
		default:
			p = upper
		}
		if p+6 >= n {
			return
		}
		if w := string(s[p : p+6]); w != "Bearer" && w != "bearer" && w != "BEARER" {
			continue
		}
		q := p + 6
		for q < n && ctype[s[q]]&ctSpace != 0 {
			q++
		}
		if q == p+6 {
			continue
		}
		t := run(s, q, ctB68)
		if t == q {
			continue
		}
		if !wordAt(s, p-1) && bearerToken(s[q:t]) {
			f.add(q, t, detBearer)
		}
		p = t - 1
	}
}

// bearerToken accepts tokens that look generated, not English words.
func bearerToken(t []byte) bool {
	if len(t) >= 16 {
		return true
	}
	if len(t) < 8 {
		return false
	}
	for _, c := range t {
		if isDigit(c) {
			return true
		}
	}
	return false
}

// privateKey finds PEM private key blocks.
func (f *finder) privateKey(s []byte) {
	i := 0
	for {
		k := bytes.Index(s[i:], []byte("-----BEGIN"))
		if k < 0 {
			return
		}
		p := i + k
		if h, ok := pemLine(s, p+10); ok {
			end := pemEnd(s, h)
			if end < 0 {
				return // no later block can end either
			}
			f.add(p, end, detPrivateKey)
			i = end
			continue
		}
		i = p + 1
	}
}

// pemEnd returns the end of the first "-----END … PRIVATE KEY-----" line at
// or after h, or -1.
func pemEnd(s []byte, h int) int {
	for j := h; ; {
		e := bytes.Index(s[j:], []byte("-----END"))
		if e < 0 {
			return -1
		}
		if end, ok := pemLine(s, j+e+8); ok {
			return end
		}
		j += e + 1
	}
}

// pemLine matches `[A-Z ]*PRIVATE KEY-----` at q.
func pemLine(s []byte, q int) (int, bool) {
	r := q
	for r < len(s) && (isUpper(s[r]) || s[r] == ' ') {
		r++
	}
	if !bytes.HasSuffix(s[q:r], []byte("PRIVATE KEY")) || !bytes.HasPrefix(s[r:], []byte("-----")) {
		return 0, false
	}
	return r + 5, true
}

// apiKey finds tokens ([A-Za-z0-9_-] runs) of well-known key formats. Keys
// starting with 'A' are anchored at their first letter, the others at the
// first '_' or '-', which all their prefixes place within 7 bytes.
func (f *finder) apiKey(s []byte, fl uint16) {
	n := len(s)
	if fl&clCapA != 0 {
		for i := 0; i < n; {
			k := bytes.IndexByte(s[i:], 'A')
			if k < 0 {
				break
			}
			p := i + k
			if p == 0 || ctype[s[p-1]]&ctToken == 0 {
				end := run(s, p, ctToken)
				if apiKeyA(s[p:end]) {
					f.add(p, end, detAPIKey)
				}
				i = end
				continue
			}
			i = p + 1
		}
	}
	if fl&(clUnder|clDash) != 0 {
		var seps sepCursor
		for i := 0; i < n; {
			p := seps.next(s, i)
			if p < 0 {
				break
			}
			a := p
			for a > 0 && p-a <= 7 && ctype[s[a-1]]&ctToken != 0 && s[a-1] != '_' && s[a-1] != '-' {
				a--
			}
			if a == 0 || ctype[s[a-1]]&ctToken == 0 {
				end := run(s, p, ctToken)
				if s[a] != 'A' && apiKeySep(s[a:end]) {
					f.add(a, end, detAPIKey)
				}
				i = end
				continue
			}
			// Not the first separator of a short-prefixed token: skip the token.
			i = run(s, p, ctToken)
		}
	}
}

// sepCursor finds the '_' and '-' bytes of a string in order, remembering
// the next occurrence of each so the string is scanned once per byte value.
type sepCursor struct {
	under, dash int // next index found, -1 none left; valid if init
	init        bool
}

func (c *sepCursor) next(s []byte, i int) int {
	find := func(pos *int, b byte) {
		if !c.init || (*pos >= 0 && *pos < i) {
			*pos = bytes.IndexByte(s[i:], b)
			if *pos >= 0 {
				*pos += i
			}
		}
	}
	find(&c.under, '_')
	find(&c.dash, '-')
	c.init = true
	switch {
	case c.under < 0:
		return c.dash
	case c.dash < 0 || c.under < c.dash:
		return c.under
	}
	return c.dash
}

func allClass(t []byte, bits uint16) bool {
	for _, c := range t {
		if ctype[c]&bits == 0 {
			return false
		}
	}
	return true
}

func hasPrefix(t []byte, p string) bool {
	return len(t) >= len(p) && string(t[:len(p)]) == p
}

// apiKeyA checks tokens starting with 'A': AWS access key IDs and Google API
// keys.
func apiKeyA(t []byte) bool {
	switch {
	case len(t) == 20 && (hasPrefix(t, "AKIA") || hasPrefix(t, "ASIA")):
		return allClass(t, ctIBAN)
	case len(t) == 39 && hasPrefix(t, "AIza"):
		return true
	}
	return false
}

// apiKeySep checks tokens with a '_' or '-' separated prefix.
func apiKeySep(t []byte) bool {
	if len(t) < 15 {
		return false
	}
	switch t[0] {
	case 'g', 's', 'r', 'x', 'n':
	default:
		return false
	}
	alnum := func(b []byte) bool { return allClass(b, ctWord) && bytes.IndexByte(b, '_') < 0 }
	switch {
	case len(t) == 40 && (hasPrefix(t, "ghp_") || hasPrefix(t, "gho_") || hasPrefix(t, "ghu_") || hasPrefix(t, "ghs_") || hasPrefix(t, "ghr_")):
		return alnum(t[4:])
	case hasPrefix(t, "github_pat_"):
		return len(t) >= 11+22 && allClass(t, ctWord)
	case hasPrefix(t, "sk_live_") || hasPrefix(t, "rk_live_") || hasPrefix(t, "sk_test_") || hasPrefix(t, "rk_test_"):
		return len(t) >= 8+16 && alnum(t[8:])
	case hasPrefix(t, "xox") && len(t) >= 15 && len(t) > 4 && t[4] == '-' && bytes.IndexByte([]byte("abposre"), t[3]) >= 0:
		return true
	case hasPrefix(t, "xapp-"):
		return len(t) >= 15
	case hasPrefix(t, "glpat-"):
		return len(t) >= 26
	case hasPrefix(t, "npm_"):
		return len(t) == 40 && alnum(t[4:])
	case hasPrefix(t, "shpat_") || hasPrefix(t, "shpss_") || hasPrefix(t, "shpca_") || hasPrefix(t, "shppa_"):
		return len(t) == 38 && allClass(t[6:], ctHexLower)
	case hasPrefix(t, "sk-ant-") || hasPrefix(t, "sk-proj-"):
		return len(t) >= 40
	case hasPrefix(t, "sk-"):
		return len(t) == 51 && alnum(t[3:])
	}
	return false
}

// alreadyScrubbed reports values a method has already written: empty, all
// '*', or a "[name]" / "[name:hex]" token. Rewriting them again would break
// idempotence (hash) or only count a second hit.
func alreadyScrubbed(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	if v[0] == '*' {
		for _, c := range v {
			if c != '*' {
				return false
			}
		}
		return true
	}
	if len(v) < 3 || v[0] != '[' || v[len(v)-1] != ']' {
		return false
	}
	in := v[1 : len(v)-1]
	name := in
	if c := bytes.IndexByte(in, ':'); c >= 0 {
		name = in[:c]
		h := in[c+1:]
		if len(h) != hashHexLen || !allClass(h, ctHexLower) {
			return false
		}
	}
	if len(name) == 0 || name[0]-'a' >= 26 {
		return false
	}
	for _, c := range name {
		if !(c-'a' < 26 || isDigit(c) || c == '_') {
			return false
		}
	}
	return true
}
