package scrub

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// frame is one open JSON container.
type frame struct {
	obj  bool // object, else array
	sens bool // values inside are under a sensitive key
	data bool // the "data" object of an event
	// attrSens is set when a sibling says the object describes a secret
	// form field (name="csrf_token", type="hidden", autocomplete="cc-number"…);
	// its "value" and "content" strings are then scrubbed whole.
	attrSens bool
	// pendStart and pendEnd locate in dst a "value"/"content" string written
	// before attrSens was known (pendEnd == 0: none).
	pendStart, pendEnd int
}

// Roles of the value after a key, as far as validation and Result care.
const (
	roleNone = iota
	roleType
	roleTimestamp
	roleData
	roleHref
	roleAttrName  // "name", "id", "type" or "autocomplete" below an event
	roleAttrValue // "value" or "content" below an event
	// The two data fields the click count reads; roleDataType is also an
	// attribute name ("type"). Keep them last: run tests role >= roleDataSource.
	roleDataSource // "source" in an event's data
	roleDataType   // "type" in an event's data
)

// Parser modes.
const (
	modeValue        = iota // a value must follow
	modeAfter               // after a value: ',', a closing bracket or the end
	modeKeyOrClose          // just after '{'
	modeValueOrClose        // just after '['
)

// event collects what Result needs from one rrweb event.
type event struct {
	hasType, hasTS, hasHref bool
	typ                     float64
	ts                      float64
	href                    string
	start                   int // output offset of the event's '{'
	// Integer literals the click count needs: type 3, data.source 2 and
	// data.type 2 (the last duplicate key wins, as in encoding/json).
	type3, source2, action2 bool
}

// notTwo records that a click-count field holds something other than the
// integer literal 2.
func (ev *event) notTwo(role int) {
	if role == roleDataSource {
		ev.source2 = false
	} else {
		ev.action2 = false
	}
}

// Timestamps outside [minTimestamp, maxTimestamp] ms are not counted in
// Result.FirstTimestamp and LastTimestamp.
const (
	minTimestamp = 1
	maxTimestamp = 253402300799999 // 9999-12-31T23:59:59.999Z
)

func bad(format string, args ...any) *InputError {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

func skipWS(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// run is the single pass: it validates src, copies it to dst and rewrites
// the strings the detectors flag. Output is built by copying the source
// between rewritten strings, so untouched bytes stay byte-identical.
func (st *state) run(dst, src []byte) ([]byte, Result, error) {
	sc := st.sc
	sensOn := sc.on[detSensitive]
	n := len(src)
	var res Result
	i := skipWS(src, 0)
	if i >= n || src[i] != '[' {
		return dst, res, bad("body must be a JSON array of rrweb events")
	}
	i++
	stack := append(st.stack[:0], frame{})
	last := 0 // src[last:] is not yet copied to dst
	var ev event
	role, sens := roleNone, false
	mode := modeValueOrClose
	for {
		i = skipWS(src, i)
		switch mode {
		case modeKeyOrClose, modeValueOrClose:
			if i < n && (src[i] == '}' || src[i] == ']') {
				break // handled below as a close
			}
			if mode == modeValueOrClose {
				mode = modeValue
				continue
			}
			var err error
			dst, last, i, role, sens, err = st.key(dst, src, last, i, stack)
			if err != nil {
				return dst, res, err
			}
			if role == roleData {
				ev.source2, ev.action2 = false, false // a repeated "data" replaces the earlier one
			}
			mode = modeValue
			continue
		case modeValue:
			if i >= n {
				return dst, res, bad("body ends in the middle of the JSON; send the complete array")
			}
			c := src[i]
			depth := len(stack)

			if depth == 1 && c != '{' {
				return dst, res, bad("event %d must be a JSON object", res.Events)
			}
			if (role == roleType || role == roleTimestamp) && c != '-' && !isDigit(c) {
				return dst, res, badField(res.Events, role)
			}
			if role >= roleDataSource && (c < '0' || c > '9') && c != '-' {
				ev.notTwo(role) // a string, literal or container: not the integer 2
			}
			switch c {
			case '{', '[':
				if depth >= sc.maxDepth {
					return dst, res, bad("events nest deeper than %d levels", sc.maxDepth)
				}
				if depth == 1 {
					// dst holds the output of src[:last]; src[last:i] follows
					// unchanged, so this is where the event starts in the output.
					ev = event{start: len(dst) + i - last}
				}
				stack = append(stack, frame{obj: c == '{', sens: sens, data: role == roleData && c == '{'})
				st.stack = stack // keep a grown stack for the next call
				i++
				if c == '{' {
					mode = modeKeyOrClose
				} else {
					mode = modeValueOrClose
					role, sens = roleNone, stack[len(stack)-1].sens
				}
				continue
			case '"':
				end, s, fl, nd, err := st.scanString(src, i)
				if err != nil {
					return dst, res, err
				}
				var out []byte
				var changed bool
				if sens && sensOn {
					out, changed = st.scrubWhole(s)
				} else {
					out, changed = st.scrubText(s, fl, nd)
				}
				top := &stack[len(stack)-1]
				switch {
				case (role == roleAttrName || role == roleDataType) && !sens && sensOn:
					top.attrSens = top.attrSens || sc.attrSensitive(attrKeyName[st.attrKey], s)
				case role == roleAttrValue && !sens && sensOn:
					if top.attrSens {
						if w, ok := st.scrubWholeAgain(out); ok {
							out, changed = w, true
						}
					} else {
						// Keep its place in case a later sibling marks the field secret.
						dst = append(dst, src[last:i]...)
						top.pendStart = len(dst)
						if changed {
							dst = appendQuoted(dst, out)
						} else {
							dst = append(dst, src[i:end]...)
						}
						top.pendEnd = len(dst)
						last, changed = end, false
					}
				}
				if changed {
					dst = append(dst, src[last:i]...)
					dst = appendQuoted(dst, out)
					last = end
				}
				if role == roleHref {
					ev.href, ev.hasHref = string(out), true
				}
				i = end
			case 't', 'f', 'n':
				lit := "null"
				if c == 't' {
					lit = "true"
				} else if c == 'f' {
					lit = "false"
				}
				if n-i < len(lit) || string(src[i:i+len(lit)]) != lit {
					return dst, res, bad("malformed JSON at byte %d", i)
				}
				i += len(lit)
			default:
				end, ok := scanNumber(src, i)
				if !ok {
					return dst, res, bad("malformed JSON at byte %d", i)
				}
				switch role {
				case roleType:
					ev.typ, ev.hasType = parseNumber(src[i:end]), true
					ev.type3 = end-i == 1 && c == '3'
				case roleTimestamp:
					ev.ts, ev.hasTS = parseNumber(src[i:end]), true
				case roleDataSource:
					ev.source2 = end-i == 1 && c == '2'
				case roleDataType:
					ev.action2 = end-i == 1 && c == '2'
				}

				if sens && sensOn {
					if out, changed := st.scrubWhole(src[i:end]); changed {
						dst = append(dst, src[last:i]...)
						dst = appendQuoted(dst, out)
						last = end
					}
				}
				i = end
			}
			mode = modeAfter
			continue
		case modeAfter:
			if len(stack) == 0 {
				if i != n {
					return dst, res, bad("unexpected data after the event array at byte %d", i)
				}
				dst = append(dst, src[last:]...)
				return dst, res, nil
			}
			if i >= n {
				return dst, res, bad("body ends in the middle of the JSON; send the complete array")
			}
			top := stack[len(stack)-1]
			if src[i] == ',' {
				i++
				if top.obj {
					var err error
					dst, last, i, role, sens, err = st.key(dst, src, last, skipWS(src, i), stack)
					if err != nil {
						return dst, res, err
					}
					if role == roleData {
						ev.source2, ev.action2 = false, false
					}
				} else {
					role, sens = roleNone, top.sens
				}
				mode = modeValue
				continue
			}
		}
		// A closing bracket.
		if i >= n {
			return dst, res, bad("body ends in the middle of the JSON; send the complete array")
		}
		top := stack[len(stack)-1]
		if c := src[i]; (top.obj && c != '}') || (!top.obj && c != ']') {
			return dst, res, bad("malformed JSON at byte %d", i)
		}
		i++
		if top.attrSens && top.pendEnd > 0 {
			dst = st.rescrubPending(dst, top.pendStart, top.pendEnd)
		}
		stack = stack[:len(stack)-1]
		if len(stack) == 1 {
			if err := closeEvent(&res, &ev); err != nil {
				return dst, res, err
			}
			if ev.typ == 4 || ev.typ == 5 {
				res.Info = append(res.Info, Span{ev.start, len(dst) + i - last})
			}
		}
		mode = modeAfter
	}
}

func badField(event, role int) *InputError {
	name := "type"
	if role == roleTimestamp {
		name = "timestamp"
	}
	return bad("event %d: %q must be a number", event, name)
}

// closeEvent checks a finished event and adds it to res.
func closeEvent(res *Result, ev *event) error {
	if !ev.hasType {
		return badField(res.Events, roleType)
	}
	if !ev.hasTS {
		return badField(res.Events, roleTimestamp)
	}
	if ev.ts >= minTimestamp && ev.ts <= maxTimestamp {
		ms := int64(ev.ts)
		if res.FirstTimestamp == 0 || ms < res.FirstTimestamp {
			res.FirstTimestamp = ms
		}
		if ms > res.LastTimestamp {
			res.LastTimestamp = ms
		}
	}
	if ev.typ == 4 && ev.hasHref {
		res.URLs = append(res.URLs, ev.href)
	}
	if ev.type3 && ev.source2 && ev.action2 {
		res.Clicks++
	}
	res.Events++
	return nil
}

// key reads an object key at src[i] and the colon after it. It returns the
// role and sensitivity of the value that follows, and scrubs the key itself
// with the string detectors.
func (st *state) key(dst, src []byte, last, i int, stack []frame) ([]byte, int, int, int, bool, error) {
	if i >= len(src) || src[i] != '"' {
		return dst, last, i, 0, false, bad("malformed JSON at byte %d: expected an object key", i)
	}
	end, k, fl, nd, err := st.scanString(src, i)
	if err != nil {
		return dst, last, i, 0, false, err
	}
	top := stack[len(stack)-1]
	kind := classifyKey(k)
	role := roleNone
	switch {
	case len(stack) == 2:
		switch kind {
		case keyType:
			role = roleType
		case keyTimestamp:
			role = roleTimestamp
		case keyData:
			role = roleData
		}
	case top.data && kind == keyHref:
		role = roleHref
	case len(stack) > 2:
		switch kind {
		case keyType, keyName, keyAutocomplete:
			role = roleAttrName
			st.attrKey = kind
			if kind == keyType && top.data {
				role = roleDataType
			}
		case keyValue:
			role = roleAttrValue
		case keySource:
			if top.data {
				role = roleDataSource
			}
		}
	}
	sens := top.sens
	if kind == keyOther {
		sens = sens || (st.sc.on[detSensitive] && st.sc.sensitiveKey(k))
		if out, changed := st.scrubText(k, fl, nd); changed {
			dst = append(dst, src[last:i]...)
			dst = appendQuoted(dst, out)
			last = end
		}
	}
	j := skipWS(src, end)
	if j >= len(src) || src[j] != ':' {
		return dst, last, j, 0, false, bad("malformed JSON at byte %d: expected ':'", j)
	}
	return dst, last, j + 1, role, sens, nil
}

// scanString reads the JSON string starting with the quote at src[i]. It
// returns the index after the closing quote and the decoded contents (a
// sub-slice of src when there are no escapes, else st.dec) with their class
// bits and digit count.
func (st *state) scanString(src []byte, i int) (int, []byte, uint16, int, error) {
	var fl uint16
	nd := 0
	n := len(src)
	j := i + 1
	for {
		for j < n {
			cl := strClass[src[j]]
			if cl&clStop != 0 {
				break
			}
			fl |= cl
			nd += int(cl & clDigit)
			j++
		}
		if j >= n {
			return 0, nil, 0, 0, bad("body ends inside a string; send the complete array")
		}
		switch c := src[j]; {
		case c == '"':
			return j + 1, src[i+1 : j], fl, nd, nil
		case c == '\\':
			return st.scanEscaped(src, i, j, fl, nd)
		case c < 0x20:
			return 0, nil, 0, 0, bad("control character in a string at byte %d; escape it", j)
		default:
			r, size := utf8.DecodeRune(src[j:])
			if r == utf8.RuneError && size <= 1 {
				return 0, nil, 0, 0, bad("invalid UTF-8 at byte %d; send UTF-8 text", j)
			}
			j += size
		}
	}
}

// scanEscaped continues scanString from the first backslash at src[j],
// decoding into st.dec. Lone surrogates decode to U+FFFD, as in
// encoding/json.
func (st *state) scanEscaped(src []byte, i, j int, fl uint16, nd int) (int, []byte, uint16, int, error) {
	n := len(src)
	dec := append(st.dec[:0], src[i+1:j]...)
	defer func() { st.dec = dec }()
	for j < n {
		c := src[j]
		if cl := strClass[c]; cl&clStop == 0 {
			dec = append(dec, c)
			fl |= cl
			nd += int(cl & clDigit)
			j++
			continue
		}
		switch {
		case c == '"':
			return j + 1, dec, fl, nd, nil
		case c == '\\':
			if j+1 >= n {
				break
			}
			var r rune
			switch e := src[j+1]; e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				r = hex4(src, j+2)
				if r < 0 {
					return 0, nil, 0, 0, bad("invalid \\u escape at byte %d", j)
				}
				if r >= 0xD800 && r < 0xDC00 {
					if j+7 < n && src[j+6] == '\\' && src[j+7] == 'u' {
						if lo := hex4(src, j+8); lo >= 0xDC00 && lo < 0xE000 {
							r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
							j += 6
						}
					}
				}
				if r >= 0xD800 && r < 0xE000 {
					r = utf8.RuneError
				}
				j += 4
			default:
				return 0, nil, 0, 0, bad("invalid escape at byte %d", j)
			}
			j += 2
			if r < utf8.RuneSelf {
				cl := strClass[r] &^ clStop
				fl |= cl
				nd += int(cl & clDigit)
				dec = append(dec, byte(r))
			} else {
				dec = utf8.AppendRune(dec, r)
			}
			continue
		case c < 0x20:
			return 0, nil, 0, 0, bad("control character in a string at byte %d; escape it", j)
		default:
			r, size := utf8.DecodeRune(src[j:])
			if r == utf8.RuneError && size <= 1 {
				return 0, nil, 0, 0, bad("invalid UTF-8 at byte %d; send UTF-8 text", j)
			}
			dec = append(dec, src[j:j+size]...)
			j += size
			continue
		}
		break
	}
	return 0, nil, 0, 0, bad("body ends inside a string; send the complete array")
}

// hex4 decodes 4 hex digits at src[i], or returns -1.
func hex4(src []byte, i int) rune {
	if i+4 > len(src) {
		return -1
	}
	var r rune
	for _, c := range src[i : i+4] {
		var v byte
		switch {
		case isDigit(c):
			v = c - '0'
		case (c|0x20)-'a' < 6:
			v = (c | 0x20) - 'a' + 10
		default:
			return -1
		}
		r = r<<4 | rune(v)
	}
	return r
}

// scanNumber returns the end of the JSON number at src[i].
func scanNumber(src []byte, i int) (int, bool) {
	n := len(src)
	if i < n && src[i] == '-' {
		i++
	}
	switch {
	case i < n && src[i] == '0':
		i++
	case i < n && src[i] >= '1' && src[i] <= '9':
		for i < n && isDigit(src[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < n && src[i] == '.' {
		i++
		if i >= n || !isDigit(src[i]) {
			return i, false
		}
		for i < n && isDigit(src[i]) {
			i++
		}
	}
	if i < n && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < n && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= n || !isDigit(src[i]) {
			return i, false
		}
		for i < n && isDigit(src[i]) {
			i++
		}
	}
	return i, true
}

// parseNumber converts a valid JSON number; integers of up to 15 digits
// (every millisecond timestamp) take the fast path.
func parseNumber(b []byte) float64 {
	if len(b) <= 15 {
		neg := b[0] == '-'
		d := b
		if neg {
			d = b[1:]
		}
		v := 0.0
		ok := true
		for _, c := range d {
			if !isDigit(c) {
				ok = false
				break
			}
			v = v*10 + float64(c-'0')
		}
		if ok {
			if neg {
				v = -v
			}
			return v
		}
	}
	f, _ := strconv.ParseFloat(string(b), 64)
	return f
}

// appendQuoted appends s as a JSON string.
func appendQuoted(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:k]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = k + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// attrKeyName names the attribute kinds for attrSensitive.
var attrKeyName = [...][]byte{keyType: []byte("type"), keyName: []byte("name"), keyAutocomplete: []byte("autocomplete")}

// scrubWholeAgain scrubs an already scrubbed "value" of a secret form field
// whole. It renders into its own buffer because v may alias st.bufs.
func (st *state) scrubWholeAgain(v []byte) ([]byte, bool) {
	if alreadyScrubbed(v) {
		return v, false
	}
	st.whole = st.render(st.whole[:0], v, detSensitive)
	st.hits[detSensitive]++
	return st.whole, true
}

// rescrubPending rewrites the JSON string at dst[start:end], written before
// a later sibling marked its field secret, and returns the spliced dst.
func (st *state) rescrubPending(dst []byte, start, end int) []byte {
	_, v, _, _, err := st.scanString(dst[:end], start)
	if err != nil {
		return dst // cannot happen: the scanner wrote it
	}
	w, ok := st.scrubWholeAgain(v)
	if !ok {
		return dst
	}
	st.tail = append(st.tail[:0], dst[end:]...)
	dst = appendQuoted(dst[:start], w)
	return append(dst, st.tail...)
}
