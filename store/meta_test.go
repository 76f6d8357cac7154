package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSummarize(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    segmentSummary
		wantErr bool
	}{
		{name: "empty array", in: `[]`},
		{name: "object", in: `{}`, wantErr: true},
		{name: "truncated", in: `[{"type":4}`, wantErr: true},
		{name: "missing comma", in: `[{"type":4} {"type":4}]`, wantErr: true},
		{name: "trailing data", in: `[]{}`, wantErr: true},
		{
			name: "meta href deduped in order",
			in:   `[{"type":4,"timestamp":10,"data":{"href":"b"}},{"type":4,"timestamp":5,"data":{"href":"a"}},{"type":4,"timestamp":7,"data":{"href":"b"}}]`,
			want: segmentSummary{Events: 3, First: 5, Last: 10, URLs: []string{"b", "a"}},
		},
		{
			name: "clicks only for mouse interaction type 2",
			in:   `[{"type":3,"timestamp":1,"data":{"source":2,"type":2}},{"type":3,"timestamp":2,"data":{"source":2,"type":4}},{"type":3,"timestamp":3,"data":{"source":1,"type":2}},{"type":2,"timestamp":4,"data":{"source":2,"type":2}}]`,
			want: segmentSummary{Events: 4, First: 1, Last: 4, Clicks: 1},
		},
		{
			name: "console errors",
			in:   `[{"type":5,"timestamp":1,"data":{"tag":"replaygate/console","payload":{"level":"error"}}},{"type":5,"timestamp":1,"data":{"tag":"replaygate/console","payload":{"level":"log"}}},{"type":5,"timestamp":1,"data":{"tag":"other","payload":{"level":"error"}}}]`,
			want: segmentSummary{Events: 3, First: 1, Last: 1, Errors: 1},
		},
		{
			name: "env with url, first one wins",
			in:   `[{"type":5,"timestamp":1,"data":{"tag":"replaygate/env","payload":{"browser":"Firefox 140","os":"macOS","viewport":{"width":800,"height":600},"language":"de","url":"https://x/"}}},{"type":5,"timestamp":2,"data":{"tag":"replaygate/env","payload":{"browser":"Other"}}}]`,
			want: segmentSummary{Events: 2, First: 1, Last: 2, URLs: []string{"https://x/"}, Env: &env{Browser: "Firefox 140", OS: "macOS", Viewport: &Viewport{800, 600}, Language: "de"}},
		},
		{
			name: "wrong field types are ignored",
			in:   `[{"type":"4","timestamp":"1","data":{"href":1}},{"type":5,"timestamp":3,"data":{"tag":"replaygate/env","payload":{"browser":7,"os":"Linux","viewport":{"width":-1,"height":5}}}},7,null]`,
			want: segmentSummary{Events: 4, First: 3, Last: 3, Env: &env{OS: "Linux"}},
		},
		{
			name: "out of range timestamps are ignored",
			in:   `[{"type":3,"timestamp":-1},{"type":3,"timestamp":1e300},{"type":3,"timestamp":0}]`,
			want: segmentSummary{Events: 3},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := summarize([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if !bytes.Equal(gj, wj) {
				t.Fatalf("\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

// comparable reports whether encoding/json's quirks cannot make the
// reference differ from summarize on in: it matches keys case-insensitively
// and after unescaping, and merges duplicate objects, where summarize looks
// for the exact keys rrweb writes.
func comparable(in []byte) bool {
	if bytes.IndexByte(in, '\\') >= 0 {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	var keys []map[string]bool // per open object
	var isObj []bool
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				keys = append(keys, map[string]bool{})
				isObj = append(isObj, true)
				expectKey = true
				continue
			case '[':
				isObj = append(isObj, false)
			case '}':
				keys = keys[:len(keys)-1]
				isObj = isObj[:len(isObj)-1]
			case ']':
				isObj = isObj[:len(isObj)-1]
			}
		case string:
			if expectKey {
				m := keys[len(keys)-1]
				if m[v] {
					return false
				}
				m[v] = true
				for _, name := range []string{"type", "timestamp", "data", "href", "source", "tag", "payload", "level", "browser", "os", "viewport", "language", "url", "width", "height"} {
					if v != name && strings.EqualFold(v, name) {
						return false
					}
				}
				expectKey = false
				continue
			}
		}
		// After a value inside an object, the next token is a key.
		expectKey = len(isObj) > 0 && isObj[len(isObj)-1]
	}
}

func TestSummarizeMatchesReference(t *testing.T) {
	inputs := []string{
		string(fixture(t)),
		`[{"data":{"href":"https://x/late-type"},"timestamp":5,"type":4}]`,
		`[{"type":4,"data":{"href":"https://x/\u00e9\/"},"timestamp":1}]`,
		`[{"type":4,"data":{"href":"https://x/\ud83d\ude00"},"timestamp":1}]`,
		`[{"type":3,"timestamp":1.5e12,"data":{"source":2,"type":2}},{"type":3,"timestamp":-3,"data":{"type":2,"source":2}}]`,
		`[{"type":5,"timestamp":7,"data":{"payload":{"level":"error"},"tag":"replaygate/console"}}]`,
		`[{"type":5,"timestamp":7,"data":{"tag":"replaygate/env","payload":{"browser":"B","os":"O","viewport":{"width":1,"height":2},"language":"l","url":"u"}}}]`,
		`[{"type":4,"timestamp":12345678901234567890,"data":{"href":"x"}}]`,
		`[{"type":12345678901234,"timestamp":1},{"type":-4,"timestamp":1e400}]`,
		"[{\"type\":4,\"data\":{\"href\":\"\xff\xfe\"}}]",
	}
	for _, in := range inputs {
		got, err := summarize([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		ref, err := summarizeReference([]byte(in))
		if err != nil {
			t.Fatalf("reference %s: %v", in, err)
		}
		gj, _ := json.Marshal(got)
		rj, _ := json.Marshal(ref)
		if !bytes.Equal(gj, rj) {
			t.Fatalf("%s\n got %s\n ref %s", in, gj, rj)
		}
	}
}

func TestSummarizeDepthLimit(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		// The outer array is one level.
		in := "[" + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "]"
		_, err := summarize([]byte(in))
		if (err == nil) != json.Valid([]byte(in)) {
			t.Fatalf("depth %d: summarize error %v, json.Valid %v", depth, err, json.Valid([]byte(in)))
		}
	}
}

func TestSummarizeBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[`)
	long := strings.Repeat("é", maxURLLen) // 2 bytes each: truncation must not split one
	for i := 0; i < maxURLs+50; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":4,"timestamp":1,"data":{"href":"` + long + string(rune('a'+i%26)) + strings.Repeat("x", i) + `"}}`)
	}
	b.WriteString(`,{"type":5,"timestamp":1,"data":{"tag":"replaygate/env","payload":{"browser":"` + strings.Repeat("b", 1000) + `"}}}]`)
	sum, err := summarize([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.URLs) != 1 {
		// All URLs share their first maxURLLen bytes, so they collapse to one.
		t.Fatalf("%d urls, want 1", len(sum.URLs))
	}
	if u := sum.URLs[0]; len(u) > maxURLLen || !utf8.ValidString(u) {
		t.Fatalf("url of %d bytes, valid UTF-8 %v", len(u), utf8.ValidString(u))
	}
	if len(sum.Env.Browser) != maxFieldLen {
		t.Fatalf("browser of %d bytes", len(sum.Env.Browser))
	}
	var many segmentSummary
	for i := 0; i < maxURLs*2; i++ {
		many.addURL(strings.Repeat("u", i+1))
	}
	if len(many.URLs) != maxURLs {
		t.Fatalf("%d urls kept, want %d", len(many.URLs), maxURLs)
	}
}

// FuzzMeta checks that metadata extraction never panics, accepts exactly the
// valid JSON arrays, counts their elements and keeps its bounds.
func FuzzMeta(f *testing.F) {
	f.Add([]byte(`[{"type":4,"timestamp":1,"data":{"href":"https://x/"}}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		in = bytes.TrimSpace(in)
		sum, err := summarize(in)
		valid := len(in) > 0 && in[0] == '[' && json.Valid(in)
		if valid != (err == nil) {
			t.Fatalf("valid JSON array %v, but summarize error %v", valid, err)
		}
		if err != nil {
			return
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(in, &elems); err != nil {
			t.Fatal(err)
		}
		if sum.Events != len(elems) {
			t.Fatalf("Events = %d, want %d", sum.Events, len(elems))
		}
		if sum.First > sum.Last || (sum.First == 0) != (sum.Last == 0) {
			t.Fatalf("First %d, Last %d", sum.First, sum.Last)
		}
		if len(sum.URLs) > maxURLs {
			t.Fatalf("%d urls", len(sum.URLs))
		}
		for _, u := range sum.URLs {
			if u == "" || len(u) > maxURLLen {
				t.Fatalf("url %q", u)
			}
		}
		if comparable(in) {
			ref, err := summarizeReference(in)
			if err == nil {
				gj, _ := json.Marshal(sum)
				rj, _ := json.Marshal(ref)
				if !bytes.Equal(gj, rj) {
					t.Fatalf("summarize and the encoding/json reference disagree:\n got %s\n ref %s", gj, rj)
				}
			}
		}
		f := replayFile{Version: replayFileVersion, ID: "x", Subject: "s", Segments: []segmentSummary{sum}}
		m := f.meta()
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("meta does not marshal: %v", err)
		}
	})
}
