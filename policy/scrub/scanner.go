package scrub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Scanner scrubs rrweb uploads. It is immutable after New and safe for
// concurrent use; per-call scratch space comes from a pool.
type Scanner struct {
	on          [numBuiltin]bool
	methods     []Method // by detector index: built-ins, then rules
	names       []string // by detector index
	rules       []rule
	hashKey     []byte
	extraKeys   [][]byte
	extraParams [][]byte
	maxDepth    int
	pool        sync.Pool
}

type rule struct {
	re     *regexp.Regexp
	prefix string // literal every match starts with, if any
}

// New validates cfg and builds a Scanner.
func New(cfg Config) (*Scanner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	sc := &Scanner{hashKey: []byte(cfg.HashKey), maxDepth: cfg.MaxDepth}
	for i, d := range cfg.Detectors.builtin() {
		sc.on[i] = d.Enabled
		sc.methods = append(sc.methods, d.Method)
		sc.names = append(sc.names, builtinNames[i])
	}
	for _, r := range cfg.Rules {
		re := regexp.MustCompile(r.Pattern) // compiled once in Validate already
		prefix, _ := re.LiteralPrefix()
		sc.rules = append(sc.rules, rule{re: re, prefix: prefix})
		m := r.Method
		if m == "" {
			m = Mask
		}
		sc.methods = append(sc.methods, m)
		sc.names = append(sc.names, r.Name)
	}
	for _, k := range cfg.ExtraSensitiveKeys {
		sc.extraKeys = append(sc.extraKeys, normalizeName(nil, []byte(k)))
	}
	for _, k := range cfg.ExtraSensitiveParams {
		sc.extraParams = append(sc.extraParams, normalizeName(nil, []byte(k)))
	}
	sc.pool.New = func() any {
		st := &state{sc: sc, hits: make([]int, len(sc.names))}
		st.f.sc = sc
		if len(sc.hashKey) > 0 {
			st.mac = hmac.New(sha256.New, sc.hashKey)
		}
		return st
	}
	return sc, nil
}

// Detectors lists the enabled detectors' names (built-ins, then custom
// rules), e.g. for metric labels.
func (sc *Scanner) Detectors() []string {
	var out []string
	for i, name := range sc.names {
		if i >= numBuiltin || sc.on[i] {
			out = append(out, name)
		}
	}
	return out
}

// ScrubString applies the string detectors (not the sensitive-key rule) to
// one string, e.g. a URL or a log field. It returns v itself when nothing
// matched.
func (sc *Scanner) ScrubString(v string) string {
	st := sc.pool.Get().(*state)
	defer sc.put(st)
	// The detectors only read s, so it may alias the string's bytes.
	s := unsafe.Slice(unsafe.StringData(v), len(v))
	fl, nd := classify(s)
	out, changed := st.scrubText(s, fl, nd)
	if !changed {
		return v
	}
	return string(out)
}

// Scrub validates src as an rrweb upload and appends its scrubbed JSON to
// dst. Validation happens in the same pass: src must be well-formed JSON in
// valid UTF-8, nest at most max_depth levels, and be an array of objects
// with numeric "type" and "timestamp". Otherwise Scrub returns dst unchanged
// and an *InputError. Strings without findings are copied byte for byte;
// rewritten strings are re-encoded. dst must not overlap src.
func (sc *Scanner) Scrub(dst, src []byte) ([]byte, Result, error) {
	st := sc.pool.Get().(*state)
	defer sc.put(st)
	base := len(dst)
	out, res, err := st.run(dst, src)
	if err != nil {
		return dst[:base], Result{}, err
	}
	for i, h := range st.hits {
		if h == 0 {
			continue
		}
		if res.Hits == nil {
			res.Hits = make(map[string]int)
		}
		res.Hits[sc.names[i]] = h
	}
	return out, res, nil
}

// maxPooledBuf keeps one huge string from pinning memory in the pool.
const maxPooledBuf = 1 << 20

func (sc *Scanner) put(st *state) {
	clear(st.hits)
	for _, b := range []*[]byte{&st.dec, &st.bufs[0], &st.bufs[1], &st.whole, &st.tail} {
		if cap(*b) > maxPooledBuf {
			*b = nil
		}
	}
	sc.pool.Put(st)
}

// state is the scratch space of one Scrub or ScrubString call.
type state struct {
	sc      *Scanner
	f       finder
	hits    []int
	dec     []byte    // decoded string with escapes
	bufs    [2][]byte // rewritten strings, alternating between rounds
	stack   []frame
	attrKey keyKind // kind of the last attribute-name key
	whole   []byte  // scrubWholeAgain output
	tail    []byte  // scratch for rescrubPending
	mac     hash.Hash
	sum     []byte
}

// classify computes the pre-filter class bits and digit count of s.
func classify(s []byte) (fl uint16, nd int) {
	for _, c := range s {
		cl := strClass[c] &^ clStop
		fl |= cl
		nd += int(cl & clDigit)
	}
	return fl, nd
}

// maxRounds bounds re-scanning a rewritten string. A rewrite can expose a
// new finding (removing text joins its neighbours); scanning until nothing
// is found keeps Scrub idempotent.
const maxRounds = 4

// scrubText runs the detectors on s and rewrites what they find. The result
// may alias st.bufs and is valid until the next call.
func (st *state) scrubText(s []byte, fl uint16, nd int) ([]byte, bool) {
	f := &st.f
	f.spans = f.spans[:0]
	f.find(s, fl, nd)
	if len(f.spans) == 0 {
		return s, false
	}
	cur := s
	for round := 0; ; round++ {
		spans := resolve(cur, f.spans)
		if len(spans) == 0 {
			return cur, round > 0
		}
		cur = st.apply(st.bufs[round%2][:0], cur, spans)
		st.bufs[round%2] = cur
		fl, nd = classify(cur)
		f.spans = f.spans[:0]
		f.find(cur, fl, nd)
		if len(f.spans) == 0 {
			return cur, true
		}
		if round == maxRounds-1 && len(resolve(cur, f.spans)) > 0 {
			// Give up refining: mask everything, which nothing matches.
			out := st.bufs[(round+1)%2][:0]
			for range utf8.RuneCount(cur) {
				out = append(out, '*')
			}
			st.bufs[(round+1)%2] = out
			return out, true
		}
	}
}

// resolve orders findings by position and drops those overlapping an
// earlier (or, at the same start, longer) one, and those already scrubbed.
// It reuses the spans slice.
func resolve(s []byte, spans []span) []span {
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spanLess(spans[j], spans[j-1]); j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	out := spans[:0]
	end := 0
	for _, sp := range spans {
		if sp.start < end || alreadyScrubbed(s[sp.start:sp.end]) {
			continue
		}
		out = append(out, sp)
		end = sp.end
	}
	return out
}

func spanLess(a, b span) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.end != b.end {
		return a.end > b.end
	}
	return a.det < b.det
}

// apply appends s with spans rewritten to dst and counts the hits.
func (st *state) apply(dst, s []byte, spans []span) []byte {
	last := 0
	for _, sp := range spans {
		dst = append(dst, s[last:sp.start]...)
		dst = st.render(dst, s[sp.start:sp.end], sp.det)
		last = sp.end
		st.hits[sp.det]++
	}
	return append(dst, s[last:]...)
}

// scrubWhole rewrites all of s, a value under a sensitive key.
func (st *state) scrubWhole(s []byte) ([]byte, bool) {
	if alreadyScrubbed(s) {
		return s, false
	}
	out := st.render(st.bufs[0][:0], s, detSensitive)
	st.bufs[0] = out
	st.hits[detSensitive]++
	return out, true
}

// render appends the rewrite of v by detector det's method.
func (st *state) render(dst, v []byte, det int) []byte {
	switch st.sc.methods[det] {
	case Mask:
		for range utf8.RuneCount(v) {
			dst = append(dst, '*')
		}
	case Replace:
		dst = append(dst, '[')
		dst = append(dst, st.sc.names[det]...)
		dst = append(dst, ']')
	case Hash:
		st.mac.Reset()
		st.mac.Write(v)
		st.sum = st.mac.Sum(st.sum[:0])
		dst = append(dst, '[')
		dst = append(dst, st.sc.names[det]...)
		dst = append(dst, ':')
		dst = hex.AppendEncode(dst, st.sum[:hashHexLen/2])
		dst = append(dst, ']')
	case Remove:
	}
	return dst
}
