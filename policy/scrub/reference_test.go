package scrub

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// reference is the naive scrubber the Scanner is measured and checked
// against: encoding/json decodes the upload into any, every string goes
// through one regular expression per detector, and encoding/json encodes
// the result. It shares only policy with the Scanner (validators such as
// Luhn and mod 97, name lists, overlap resolution and methods), not the
// scanning.
type reference struct {
	sc   *Scanner
	st   *state // for resolve/render/hits
	dets []refDetector
}

// refDetector finds candidates with re; ok checks one (m holds submatch
// indexes into s) and returns the span to rewrite.
type refDetector struct {
	det int
	re  *regexp.Regexp
	ok  func(s []byte, m []int) (start, end int, ok bool)
}

func whole(group int, check func(s []byte, m []int) bool) func(s []byte, m []int) (int, int, bool) {
	return func(s []byte, m []int) (int, int, bool) {
		if check != nil && !check(s, m) {
			return 0, 0, false
		}
		return m[2*group], m[2*group+1], true
	}
}

func newReference(sc *Scanner) *reference {
	r := &reference{sc: sc, st: sc.pool.Get().(*state)}
	add := func(det int, pattern string, ok func(s []byte, m []int) (int, int, bool)) {
		if det < numBuiltin && !sc.on[det] {
			return
		}
		r.dets = append(r.dets, refDetector{det: det, re: regexp.MustCompile(pattern), ok: ok})
	}
	add(detPrivateKey, `-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----`, whole(0, nil))
	add(detJWT, `eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`, whole(0, func(s []byte, m []int) bool {
		return jwtOK(s, m[0], m[1])
	}))
	add(detBearer, `(?:Bearer|bearer|BEARER)[\t\n\f\r ]+([A-Za-z0-9._~+/=-]+)`, whole(1, func(s []byte, m []int) bool {
		return !wordAt(s, m[0]-1) && bearerToken(s[m[2]:m[3]])
	}))
	add(detAPIKey, `[A-Za-z0-9_-]+`, whole(0, func(s []byte, m []int) bool {
		t := s[m[0]:m[1]]
		return apiKeyA(t) || apiKeySep(t)
	}))
	add(detURLCreds, `://([^/?#@\t\n\f\r "'<>]+)@`, whole(1, func(s []byte, m []int) bool {
		return !alreadyScrubbed(s[m[2]:m[3]])
	}))
	add(detURLParam, `(?:^|[?&#;,\t\n\f\r ])([A-Za-z0-9_.\[\]-]{1,64})=([^&#;,\t\n\f\r "'<>()]*)`, whole(2, func(s []byte, m []int) bool {
		return m[5] > m[4] && sc.sensitiveParam(s[m[2]:m[3]], s[m[4]:m[5]]) && !alreadyScrubbed(s[m[4]:m[5]])
	}))
	tld := regexp.MustCompile(`[A-Za-z]+$`)
	add(detEmail, `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b`, whole(0, func(s []byte, m []int) bool {
		return !fileExtension(tld.Find(s[m[0]:m[1]]))
	}))
	add(detCreditCard, `\b(?:\d{13,19}|\d{4} \d{4} \d{4} \d{4}(?: \d{3})?|\d{4}-\d{4}-\d{4}-\d{4}(?:-\d{3})?|\d{4} \d{6} \d{4,5}|\d{4}-\d{6}-\d{4,5})\b`,
		whole(0, func(s []byte, m []int) bool { return validCard(s[m[0]:m[1]]) }))
	add(detIBAN, `\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4})+(?: [A-Z0-9]{1,3})?)\b`,
		whole(0, func(s []byte, m []int) bool { return validIBAN(s[m[0]:m[1]]) }))
	add(detSSN, `\b\d{3}-\d{2}-\d{4}\b`, whole(0, func(s []byte, m []int) bool { return validSSN(s[m[0]:m[1]]) }))
	add(detIPv6, `[0-9A-Fa-f:.]+`, func(s []byte, m []int) (int, int, bool) {
		e, ok := validIPv6(s, m[0], m[1])
		return m[0], e, ok
	})
	add(detIPv4, `[0-9.]+`, func(s []byte, m []int) (int, int, bool) {
		e, ok := validIPv4(s, m[0], m[1])
		return m[0], e, ok
	})
	for i, rl := range sc.rules {
		add(numBuiltin+i, rl.re.String(), whole(0, func(s []byte, m []int) bool { return m[1] > m[0] }))
	}
	return r
}

// find runs every detector's expression over s.
func (r *reference) find(s []byte) []span {
	var spans []span
	for _, d := range r.dets {
		for _, m := range d.re.FindAllSubmatchIndex(s, -1) {
			if a, b, ok := d.ok(s, m); ok {
				spans = append(spans, span{a, b, d.det})
			}
		}
	}
	return spans
}

// scrubString mirrors state.scrubText with regexp scanning.
func (r *reference) scrubString(v string) string {
	cur := []byte(v)
	spans := resolve(cur, r.find(cur))
	for round := 0; len(spans) > 0; round++ {
		if round == maxRounds {
			return string(bytes.Repeat([]byte("*"), len([]rune(string(cur)))))
		}
		cur = r.st.apply(nil, cur, spans)
		spans = resolve(cur, r.find(cur))
	}
	return string(cur)
}

// walk mirrors the scanner's rules on a decoded tree; depth counts the
// enclosing containers (the event array is 1, an event object 2).
func (r *reference) walk(v any, sens bool, depth int) any {
	sensOn := r.sc.on[detSensitive]
	switch x := v.(type) {
	case map[string]any:
		attrSens := false
		if depth >= 2 && sensOn && !sens {
			for _, k := range []string{"name", "id", "type", "autocomplete"} {
				if s, ok := x[k].(string); ok && r.sc.attrSensitive([]byte(k), []byte(s)) {
					attrSens = true
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			ks, kSens := k, sens
			if !commonKey([]byte(k)) {
				kSens = sens || (sensOn && r.sc.sensitiveKey([]byte(k)))
				ks = r.scrubString(k)
			}
			s, isStr := val.(string)
			if attrSens && !kSens && isStr && (k == "value" || k == "content") {
				w, _ := r.st.scrubWholeAgain([]byte(r.scrubString(s)))
				out[ks] = string(w)
				continue
			}
			out[ks] = r.walk(val, kSens, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.walk(e, sens, depth+1)
		}
		return out
	case string:
		if sens && sensOn {
			out, _ := r.st.scrubWhole([]byte(x))
			return string(out)
		}
		return r.scrubString(x)
	case json.Number:
		if sens && sensOn {
			out, _ := r.st.scrubWhole([]byte(x))
			return string(out)
		}
		return x
	}
	return v
}

// Scrub decodes, scrubs and re-encodes src, returning hits per detector.
func (r *reference) Scrub(src []byte) ([]byte, map[string]int, error) {
	clear(r.st.hits)
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nil, err
	}
	out := r.walk(v, false, 0)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, nil, err
	}
	hits := map[string]int{}
	for i, h := range r.st.hits {
		if h > 0 {
			hits[r.sc.names[i]] = h
		}
	}
	return buf.Bytes(), hits, nil
}

func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

// diffStrings reports the first differing string leaf of two decoded trees.
func diffStrings(a, b any, path string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return path + ": type differs"
		}
		for k := range x {
			if _, ok := y[k]; !ok {
				return path + "." + k + ": key only in scanner output"
			}
			if d := diffStrings(x[k], y[k], path+"."+k); d != "" {
				return d
			}
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				return path + "." + k + ": key only in reference output"
			}
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return path + ": array differs"
		}
		for i := range x {
			if d := diffStrings(x[i], y[i], path+"["+string(rune('0'+i%10))+"]"); d != "" {
				return d
			}
		}
	default:
		if !reflect.DeepEqual(a, b) {
			s, _ := json.Marshal(a)
			r, _ := json.Marshal(b)
			return path + ": scanner " + string(s) + " reference " + string(r)
		}
	}
	return ""
}

// TestDifferential checks that the hand-written scanner finds exactly what
// the regular expressions find, on the benchmark corpus and on the
// precision/recall corpora, with default and with all-hash settings.
func TestDifferential(t *testing.T) {
	inputs := map[string][]byte{}
	if !testing.Short() { // the reference needs seconds for the corpus (minutes with -race)
		inputs["recording.json"] = loadCorpus(t)
	}
	for _, name := range []string{"truepositives.txt", "lookalikes.txt"} {
		inputs[name] = linesAsEvents(t, "testdata/"+name)
	}
	hashed := DefaultConfig()
	hashed.HashKey = "0123456789abcdef0123456789abcdef"
	for _, d := range hashed.Detectors.builtin() {
		d.Method = Hash
	}
	custom := DefaultConfig()
	custom.Rules = []Rule{{Name: "order", Pattern: `ORD-\d{4}-\d{4}-\d{5}`, Method: Replace}}
	configs := map[string]Config{"default": DefaultConfig(), "hash": hashed, "custom": custom}
	for cname, cfg := range configs {
		sc, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ref := newReference(sc)
		for name, src := range inputs {
			t.Run(cname+"/"+name, func(t *testing.T) {
				got, res, err := sc.Scrub(nil, src)
				if err != nil {
					t.Fatal(err)
				}
				want, wantHits, err := ref.Scrub(src)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffStrings(decodeAny(t, got), decodeAny(t, want), "$"); d != "" {
					t.Fatalf("outputs differ at %s", d)
				}
				gotHits := res.Hits
				if gotHits == nil {
					gotHits = map[string]int{}
				}
				if !maps.Equal(gotHits, wantHits) {
					t.Fatalf("hits differ:\nscanner   %v\nreference %v", gotHits, wantHits)
				}
				if len(wantHits) == 0 {
					t.Fatal("no hits at all: the corpus should contain personal data")
				}
				t.Logf("%d bytes, hits %v", len(src), gotHits)
			})
		}
	}
}

// BenchmarkReference measures the naive reference on the corpus.
func BenchmarkReference(b *testing.B) {
	src := loadCorpus(b)
	sc, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	ref := newReference(sc)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		if _, _, err := ref.Scrub(src); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, len(src))
}

// TestSpeedupOverReference asserts the scanner is at least 10 times faster
// than the naive reference per CPU second (thread CPU time, so other load on
// the machine does not matter; the reference's GC threads are not even
// counted against it). It is a measurement, kept out of the unit tests:
// run it with SCRUB_SPEEDUP=1 (BENCH_NOTES.md).
func TestSpeedupOverReference(t *testing.T) {
	if os.Getenv("SCRUB_SPEEDUP") == "" {
		t.Skip("a measurement: set SCRUB_SPEEDUP=1 to run it")
	}
	src := loadCorpus(t)
	sc := newTestScanner(t, nil)
	ref := newReference(sc)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	measure := func(n int, f func()) time.Duration {
		start, ok := threadCPU()
		if !ok {
			t.Skip("no per-thread CPU time on this OS")
		}
		for range n {
			f()
		}
		end, _ := threadCPU()
		return (end - start) / time.Duration(n)
	}
	dst := make([]byte, 0, len(src))
	scan := measure(20, func() { dst, _, _ = sc.Scrub(dst[:0], src) })
	naive := measure(2, func() { _, _, _ = ref.Scrub(src) })
	speedup := float64(naive) / float64(scan)
	mbps := float64(len(src)) / scan.Seconds() / 1e6
	t.Logf("scanner %v/op (%.0f MB/s per core), reference %v/op: %.0fx", scan, mbps, naive, speedup)
	if speedup < 10 {
		t.Errorf("speedup %.1fx over the reference, want >= 10x", speedup)
	}
}
