package scrub

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestScanner(t testing.TB, mod func(*Config)) *Scanner {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	sc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// ev wraps a JSON value as the data of one custom event.
func ev(data string) string {
	return `[{"type":5,"timestamp":1,"data":` + data + `}]`
}

func TestScrubRejects(t *testing.T) {
	sc := newTestScanner(t, func(c *Config) { c.MaxDepth = 16 })
	deep := `[{"type":5,"timestamp":1,"data":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}]`
	tests := []struct {
		name, in, msg string
	}{
		{"empty body", ``, "must be a JSON array"},
		{"object", `{"type":1}`, "must be a JSON array"},
		{"string", `"x"`, "must be a JSON array"},
		{"element not object", `[1]`, "event 0 must be a JSON object"},
		{"second element not object", `[{"type":1,"timestamp":2},[]]`, "event 1 must be a JSON object"},
		{"missing type", `[{"timestamp":1}]`, `"type" must be a number`},
		{"string type", `[{"type":"2","timestamp":1}]`, `"type" must be a number`},
		{"null timestamp", `[{"type":2,"timestamp":null}]`, `"timestamp" must be a number`},
		{"object timestamp", `[{"type":2,"timestamp":{}}]`, `"timestamp" must be a number`},
		{"missing timestamp", `[{"type":2}]`, `"timestamp" must be a number`},
		{"truncated", `[{"type":2,"timestamp":1}`, "ends in the middle"},
		{"truncated string", `[{"type":2,"timestamp":1,"x":"abc`, "ends inside a string"},
		{"trailing data", `[{"type":2,"timestamp":1}] x`, "unexpected data after"},
		{"two arrays", `[][]`, "unexpected data after"},
		{"trailing comma", `[{"type":2,"timestamp":1},]`, "must be a JSON object"},
		{"trailing comma in object", `[{"type":2,"timestamp":1,}]`, "expected an object key"},
		{"missing colon", `[{"type" 2}]`, "expected ':'"},
		{"bad literal", `[{"type":2,"timestamp":1,"x":tru}]`, "malformed JSON"},
		{"bad number", `[{"type":2,"timestamp":01}]`, "malformed JSON"},
		{"bad fraction", `[{"type":2,"timestamp":1.}]`, "malformed JSON"},
		{"mismatched bracket", `[{"type":2,"timestamp":1]]`, "malformed JSON"},
		{"single quotes", `[{'type':2}]`, "expected an object key"},
		{"invalid UTF-8", "[{\"type\":2,\"timestamp\":1,\"x\":\"\xff\"}]", "invalid UTF-8"},
		{"overlong UTF-8", "[{\"type\":2,\"timestamp\":1,\"x\":\"\xc0\xaf\"}]", "invalid UTF-8"},
		{"raw control character", "[{\"type\":2,\"timestamp\":1,\"x\":\"a\nb\"}]", "control character"},
		{"bad escape", `[{"type":2,"timestamp":1,"x":"\x"}]`, "invalid escape"},
		{"bad unicode escape", `[{"type":2,"timestamp":1,"x":"\u12G4"}]`, "invalid \\u escape"},
		{"too deep", deep, "deeper than 16 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, res, err := sc.Scrub(dst, []byte(tt.in))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InputError", err)
			}
			if !strings.Contains(ie.Msg, tt.msg) {
				t.Errorf("msg = %q, want it to contain %q", ie.Msg, tt.msg)
			}
			if string(out) != "prefix" || res.Events != 0 {
				t.Errorf("on error got out %q, result %+v; want dst unchanged, zero result", out, res)
			}
		})
	}
}

func TestScrubAccepts(t *testing.T) {
	sc := newTestScanner(t, nil)
	for _, in := range []string{
		`[]`,
		" \n[ ]\t",
		`[{"type":2,"timestamp":1}]`,
		`[{"type":2.0,"timestamp":1.5e3,"data":{"a":[true,false,null,-0.5E-2,{"b":[]}]}}]`,
		`[{"timestamp":1,"type":3,"data":{}} , {"type":4,"timestamp":2,"data":{"href":"https://a.example/"}}]`,
		`[{"type":5,"timestamp":1,"data":"\ud83d\ude00 \u00e9 \"q\" \\ \/ \b\f\n\r\t"}]`,
		`[{"type":5,"timestamp":1,"data":"lone \ud800 surrogate"}]`,
	} {
		out, _, err := sc.Scrub(nil, []byte(in))
		if err != nil {
			t.Errorf("Scrub(%q): %v", in, err)
			continue
		}
		if string(out) != in {
			t.Errorf("Scrub(%q) = %q, want the input unchanged", in, out)
		}
	}
}

func TestScrubDetectsAndRewrites(t *testing.T) {
	sc := newTestScanner(t, nil)
	tests := []struct {
		name, data, want string
		hits             map[string]int
	}{
		{"email in text", `{"text":"write to bob@example.com now"}`, `{"text":"write to *************** now"}`, map[string]int{"email": 1}},
		{"escaped at sign", `{"text":"bob\u0040example.com"}`, `{"text":"***************"}`, map[string]int{"email": 1}},
		{"fully escaped email", `{"t":"\u0062\u006f\u0062\u0040\u0065\u0078\u002e\u0069\u006f"}`, `{"t":"*********"}`, map[string]int{"email": 1}},
		{"escapes kept around a finding", `{"t":"\"q\"\n4111 1111 1111 1111\ttab \ud83d\ude00"}`, `{"t":"\"q\"\n*******************\ttab 😀"}`, map[string]int{"creditcard": 1}},
		{"mask counts characters", `{"t":"ü 4111111111111111 ü"}`, `{"t":"ü **************** ü"}`, map[string]int{"creditcard": 1}},
		{"attribute value", `{"attributes":{"title":"SSN 536-22-1234"}}`, `{"attributes":{"title":"SSN ***********"}}`, map[string]int{"ssn": 1}},
		{"css text", `{"_cssText":".x{background:url(/i.png?token=abc123)}"}`, `{"_cssText":".x{background:url(/i.png?token=******)}"}`, map[string]int{"urlparam": 1}},
		{"key is scrubbed", `{"jane@example.org":1}`, `{"****************":1}`, map[string]int{"email": 1}},
		{"sensitive key string", `{"password":"hunter2"}`, `{"password":"*******"}`, map[string]int{"sensitivekey": 1}},
		{"sensitive key number", `{"pin":1234}`, `{"pin":"****"}`, map[string]int{"sensitivekey": 1}},
		{"sensitive key bool untouched", `{"token":true,"secret":null}`, `{"token":true,"secret":null}`, nil},
		{"sensitive key nested", `{"credentials":{"user":"jane","list":["a",2]},"next":"ok"}`, `{"credentials":{"user":"****","list":["*","*"]},"next":"ok"}`, map[string]int{"sensitivekey": 3}},
		{"header names", `{"requestHeaders":{"Authorization":"Basic Zm9vOmJhcg==","X-Api-Key":"k1","Content-Type":"text/plain"}}`,
			`{"requestHeaders":{"Authorization":"******************","X-Api-Key":"**","Content-Type":"text/plain"}}`, map[string]int{"sensitivekey": 2}},
		{"author is not auth", `{"author":"Jane Austen"}`, `{"author":"Jane Austen"}`, nil},
		{"empty sensitive value", `{"password":""}`, `{"password":""}`, nil},
		{"already masked", `{"password":"*****","t":"token=****"}`, `{"password":"*****","t":"token=****"}`, nil},
		{"hidden input, name first", `{"attributes":{"type":"hidden","name":"csrf_token","value":"f3a9c2e1"}}`,
			`{"attributes":{"type":"hidden","name":"csrf_token","value":"********"}}`, map[string]int{"sensitivekey": 1}},
		{"secret field, value first", `{"attributes":{"value":"s3cr3t-value","class":"x","id":"api-key"},"next":{"value":"kept"}}`,
			`{"attributes":{"value":"************","class":"x","id":"api-key"},"next":{"value":"kept"}}`, map[string]int{"sensitivekey": 1}},
		{"value first, escaped, spliced", `{"a":{"value":"\u0041b \"c\"","autocomplete":"cc-number"},"b":"after"}`,
			`{"a":{"value":"******","autocomplete":"cc-number"},"b":"after"}`, map[string]int{"sensitivekey": 1}},
		{"meta csrf content", `{"tagName":"meta","attributes":{"name":"csrf-token","content":"kX9f2mQ7"}}`,
			`{"tagName":"meta","attributes":{"name":"csrf-token","content":"********"}}`, map[string]int{"sensitivekey": 1}},
		{"plain field untouched", `{"attributes":{"type":"text","name":"q","value":"running shoes","autocomplete":"off"}}`,
			`{"attributes":{"type":"text","name":"q","value":"running shoes","autocomplete":"off"}}`, nil},
		{"secret field value with finding", `{"attributes":{"value":"a@b.io x","type":"password"}}`,
			`{"attributes":{"value":"********","type":"password"}}`, map[string]int{"email": 1, "sensitivekey": 1}},
		{"console payload", `{"plugin":"rrweb/console@1","payload":{"payload":["\"login ok for jane@example.org from 203.0.113.9\""]}}`,
			`{"plugin":"rrweb/console@1","payload":{"payload":["\"login ok for **************** from ***********\""]}}`, map[string]int{"email": 1, "ipv4": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, res, err := sc.Scrub(nil, []byte(ev(tt.data)))
			if err != nil {
				t.Fatal(err)
			}
			if want := ev(tt.want); string(out) != want {
				t.Errorf("got  %s\nwant %s", out, want)
			}
			if len(res.Hits) != len(tt.hits) {
				t.Errorf("hits = %v, want %v", res.Hits, tt.hits)
			}
			for k, v := range tt.hits {
				if res.Hits[k] != v {
					t.Errorf("hits = %v, want %v", res.Hits, tt.hits)
				}
			}
			if !json.Valid(out) {
				t.Errorf("invalid JSON: %s", out)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	const text = "card 4111111111111111, mail a@b.io"
	tests := []struct {
		method Method
		want   string
	}{
		{Mask, "card ****************, mail ******"},
		{Replace, "card [creditcard], mail [email]"},
		{Remove, "card , mail "},
	}
	for _, tt := range tests {
		sc := newTestScanner(t, func(c *Config) {
			c.Detectors.CreditCard.Method = tt.method
			c.Detectors.Email.Method = tt.method
		})
		if got := sc.ScrubString(text); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.method, got, tt.want)
		}
	}
	hashed := func(key string) *Scanner {
		return newTestScanner(t, func(c *Config) {
			c.HashKey = key
			c.Detectors.Email.Method = Hash
		})
	}
	a := hashed("0123456789abcdef").ScrubString("a@b.io and a@b.io and c@d.io")
	parts := strings.Split(a, " and ")
	if len(parts) != 3 || parts[0] != parts[1] || parts[0] == parts[2] || !strings.HasPrefix(parts[0], "[email:") || len(parts[0]) != len("[email:]")+hashHexLen {
		t.Errorf("hash output %q: want equal values to hash equally, others differently", a)
	}
	if b := hashed("fedcba9876543210").ScrubString("a@b.io"); b == parts[0] {
		t.Errorf("hash %q does not depend on the key", b)
	}
}

func TestDisabledDetector(t *testing.T) {
	sc := newTestScanner(t, func(c *Config) {
		c.Detectors.Email.Enabled = false
		c.Detectors.SensitiveKeys.Enabled = false
	})
	in := ev(`{"password":"x","t":"a@b.io 4111111111111111"}`)
	out, res, err := sc.Scrub(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := ev(`{"password":"x","t":"a@b.io ****************"}`); string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
	if res.Hits["email"] != 0 || res.Hits["creditcard"] != 1 {
		t.Errorf("hits %v", res.Hits)
	}
	for _, d := range sc.Detectors() {
		if d == "email" || d == "sensitivekey" {
			t.Errorf("Detectors() lists disabled %q", d)
		}
	}
}

func TestCustomRulesAndExtraNames(t *testing.T) {
	sc := newTestScanner(t, func(c *Config) {
		c.Rules = []Rule{{Name: "employee", Pattern: `EMP-\d{6}`, Method: Replace}}
		c.ExtraSensitiveKeys = []string{"loyalty-number"}
		c.ExtraSensitiveParams = []string{"voucher"}
	})
	in := ev(`{"t":"by EMP-123456 at /r?voucher=SPRING24","loyaltyNumber":"LN-42","keep":"EMP-12"}`)
	out, res, err := sc.Scrub(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := ev(`{"t":"by [employee] at /r?voucher=********","loyaltyNumber":"*****","keep":"EMP-12"}`); string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if res.Hits["employee"] != 1 || res.Hits["urlparam"] != 1 || res.Hits["sensitivekey"] != 1 {
		t.Errorf("hits %v", res.Hits)
	}
	if got := sc.Detectors(); got[len(got)-1] != "employee" || len(got) != numBuiltin+1 {
		t.Errorf("Detectors() = %v", got)
	}
}

func TestResult(t *testing.T) {
	sc := newTestScanner(t, nil)
	in := `[
	  {"type":4,"data":{"href":"https://shop.example/?email=a%40b.io&x=1","width":1},"timestamp":1700000000500},
	  {"type":3,"data":{"source":1,"href":"not a meta href"},"timestamp":1700000000100},
	  {"data":{"href":"https://shop.example/next"},"timestamp":1700000000900,"type":4},
	  {"type":5,"timestamp":1700000000700,"data":{"tag":"x","payload":{"href":"https://ignored.example/"}}}
	]`
	_, res, err := sc.Scrub(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 4 || res.FirstTimestamp != 1700000000100 || res.LastTimestamp != 1700000000900 {
		t.Errorf("result %+v", res)
	}
	want := []string{"https://shop.example/?email=********&x=1", "https://shop.example/next"}
	if strings.Join(res.URLs, " ") != strings.Join(want, " ") {
		t.Errorf("URLs = %q, want %q", res.URLs, want)
	}
	if res.Hits["urlparam"] != 1 {
		t.Errorf("hits %v", res.Hits)
	}
}

func TestCorpusIdempotence(t *testing.T) {
	src := loadCorpus(t)
	hashed := func(c *Config) {
		c.HashKey = "0123456789abcdef"
		for _, d := range c.Detectors.builtin() {
			d.Method = Hash
		}
	}
	removed := func(c *Config) {
		for _, d := range c.Detectors.builtin() {
			d.Method = Remove
		}
	}
	for name, mod := range map[string]func(*Config){"default": nil, "hash": hashed, "remove": removed} {
		sc := newTestScanner(t, mod)
		once, res, err := sc.Scrub(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(once) {
			t.Fatalf("%s: output is not valid JSON", name)
		}
		twice, res2, err := sc.Scrub(nil, once)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Errorf("%s: scrub(scrub(x)) != scrub(x)", name)
		}
		if len(res2.Hits) != 0 {
			t.Errorf("%s: second pass still hits %v", name, res2.Hits)
		}
		if res.Events != 1402 || len(res.URLs) != 1 {
			t.Errorf("%s: result %d events, urls %q", name, res.Events, res.URLs)
		}
		for _, leak := range []string{"jane.doe@example.org", "4242 4242 4242 4242", "DE89 3704 0044 0532 0130 00", "eyJhbGciOiJIUzI1NiIs", "tok_1Nv8cH2eZvKYlo2C"} {
			if bytes.Contains(once, []byte(leak)) {
				t.Errorf("%s: output still contains %q", name, leak)
			}
		}
	}
}

func TestScrubString(t *testing.T) {
	sc := newTestScanner(t, nil)
	tests := []struct{ in, want string }{
		{"", ""},
		{"GET /cart?page=2", "GET /cart?page=2"},
		{"GET /reset?token=abc&page=2", "GET /reset?token=***&page=2"},
		{"dsn postgres://app:s3cr3t@db:5432/x", "dsn postgres://**********@db:5432/x"},
		{"Authorization: Bearer 0123456789abcdef", "Authorization: Bearer ****************"},
		{"ip 2001:db8::1 and 10.1.2.3.", "ip *********** and ********."},
		{"key AKIAIOSFODNN7EXAMPLE.", "key ********************."},
	}
	for _, tt := range tests {
		if got := sc.ScrubString(tt.in); got != tt.want {
			t.Errorf("ScrubString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestConcurrent runs Scrub from several goroutines (meaningful with -race).
func TestConcurrent(t *testing.T) {
	sc := newTestScanner(t, nil)
	src := []byte(ev(`{"t":"a@b.io 4111111111111111","password":"x"}`))
	want, _, err := sc.Scrub(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, _, err := sc.Scrub(nil, src)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("concurrent Scrub = %s, %v", got, err)
					return
				}
				if s := sc.ScrubString("mail a@b.io"); s != "mail ******" {
					t.Errorf("ScrubString = %q", s)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCorpusDepth documents how deep the generated recording nests, which
// max_depth must comfortably exceed.
func TestCorpusDepth(t *testing.T) {
	src := loadCorpus(t)
	depth, maxDepth := 0, 0
	inStr, esc := false, false
	for _, c := range src {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '[' || c == '{'):
			depth++
			maxDepth = max(maxDepth, depth)
		case !inStr && (c == ']' || c == '}'):
			depth--
		}
	}
	t.Logf("corpus nests %d levels; default max_depth %d", maxDepth, DefaultMaxDepth)
	if maxDepth*4 > DefaultMaxDepth {
		t.Errorf("default max_depth %d leaves too little room over a %d-level corpus", DefaultMaxDepth, maxDepth)
	}
	sc := newTestScanner(t, func(c *Config) { c.MaxDepth = maxDepth })
	if _, _, err := sc.Scrub(nil, src); err != nil {
		t.Errorf("max_depth equal to the corpus depth: %v", err)
	}
	sc = newTestScanner(t, func(c *Config) { c.MaxDepth = maxDepth - 1 })
	if _, _, err := sc.Scrub(nil, src); err == nil {
		t.Error("max_depth one below the corpus depth: no error")
	}
}

// TestLinearTime feeds each detector's worst case: a quadratic scan would
// take minutes on these 100-300 KB strings, a linear one milliseconds.
func TestLinearTime(t *testing.T) {
	sc := newTestScanner(t, nil)
	for _, s := range []string{
		strings.Repeat("eyJ", 100000), strings.Repeat("eyJa.", 50000),
		strings.Repeat("-----BEGIN PRIVATE KEY-----", 10000),
		strings.Repeat("a@", 100000), strings.Repeat("x@a.", 50000), strings.Repeat("a:", 100000),
		strings.Repeat("a=", 100000), strings.Repeat("A", 100000), strings.Repeat("_a", 100000),
		strings.Repeat("bearer ", 30000), strings.Repeat("1.", 100000), strings.Repeat("AB12 ", 40000),
		strings.Repeat("://", 100000), strings.Repeat("1234 ", 50000), strings.Repeat("ff::", 50000),
	} {
		start := time.Now()
		sc.ScrubString(s)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q…: %v", s[:12], d)
		}
	}
}

// TestResultClicksAndInfo: the pass counts clicks with integer-literal
// semantics, leaves out-of-range timestamps out of First/Last, and locates
// the Meta and custom events in the output (scrubbed) exactly.
func TestResultClicksAndInfo(t *testing.T) {
	sc, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	in := `[{"type":4,"data":{"href":"https://shop.example/?token=abc123secret"},"timestamp":1700000000100},` +
		`{"type":3,"data":{"source":2,"type":2,"id":7},"timestamp":1700000000200},` +
		`{"data":{"type":2,"source":2},"type":3,"timestamp":1700000000300},` +
		`{"type":3,"data":{"source":2,"type":1},"timestamp":1700000000400},` +
		`{"type":3,"data":{"source":2,"type":2.0},"timestamp":1700000000500},` +
		`{"type":3,"data":{"source":"2","type":2},"timestamp":1700000000600},` +
		`{"type":3,"data":{"source":2,"type":2,"source":1},"timestamp":1700000000700},` +
		` {"type":5,"data":{"tag":"replaygate/console","payload":{"level":"error","args":["mail jane.doe@example.com"]}},"timestamp":0},` +
		`{"type":2,"data":{},"timestamp":1700000000900}]`
	out, res, err := sc.Scrub(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if res.Clicks != 2 {
		t.Errorf("Clicks = %d, want 2", res.Clicks)
	}
	if res.FirstTimestamp != 1700000000100 || res.LastTimestamp != 1700000000900 {
		t.Errorf("First, Last = %d, %d", res.FirstTimestamp, res.LastTimestamp)
	}
	var events []json.RawMessage
	if err := json.Unmarshal(out, &events); err != nil {
		t.Fatal(err)
	}
	if len(res.Info) != 2 {
		t.Fatalf("Info has %d spans, want 2", len(res.Info))
	}
	for i, want := range []json.RawMessage{events[0], events[7]} {
		sp := res.Info[i]
		if got := out[sp.Start:sp.End]; !bytes.Equal(got, want) {
			t.Errorf("span %d is %q, want %q", i, got, want)
		}
	}
	if bytes.Contains(out[res.Info[1].Start:res.Info[1].End], []byte("jane.doe")) {
		t.Error("span points at unscrubbed bytes")
	}
}

// TestRepeatedDataResetsClick: as in encoding/json, a later "data" member
// replaces an earlier one, so an event whose last data is not a click is
// not counted.
func TestRepeatedDataResetsClick(t *testing.T) {
	sc, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]int{
		`[{"type":3,"data":{"source":2,"type":2},"data":{},"timestamp":1}]`:                 0,
		`[{"type":3,"data":{"source":2,"type":2},"data":null,"timestamp":1}]`:               0,
		`[{"type":3,"data":{},"data":{"source":2,"type":2},"timestamp":1}]`:                 1,
		`[{"type":3,"data":{"source":2,"type":2,"x":{"source":1,"type":1}},"timestamp":1}]`: 1,
	} {
		_, res, err := sc.Scrub(nil, []byte(in))
		if err != nil || res.Clicks != want {
			t.Errorf("%s: Clicks = %d (%v), want %d", in, res.Clicks, err, want)
		}
	}
}
