package inject

import (
	"net/http"
	"strings"
	"testing"
)

func TestCSPPlan(t *testing.T) {
	const N = "'nonce-N'"
	cases := []struct {
		name      string
		csp, ro   []string
		origin    string // ourSource; default 'self'
		override  bool
		want, wRO []string // with N for the nonce; nil: header absent
		wantNonce bool
		wantBlock bool
	}{
		{name: "no csp"},
		{name: "script-src self", csp: []string{"script-src 'self'"},
			want: []string{"script-src 'self' " + N}, wantNonce: true},
		{name: "default-src only: explicit script-src and connect ok", csp: []string{"default-src 'self'; img-src *"},
			want: []string{"default-src 'self'; img-src *; script-src 'self' " + N}, wantNonce: true},
		{name: "default-src cdn: script-src and connect-src derived", csp: []string{"default-src https://cdn.example"},
			want: []string{"default-src https://cdn.example; script-src https://cdn.example " + N + "; connect-src https://cdn.example 'self'"}, wantNonce: true},
		{name: "strict-dynamic keeps semantics", csp: []string{"script-src 'nonce-abc' 'strict-dynamic'; object-src 'none'"},
			want: []string{"script-src 'nonce-abc' 'strict-dynamic' " + N + "; object-src 'none'"}, wantNonce: true},
		{name: "unsafe-inline without nonce: no nonce, self already allowed", csp: []string{"script-src 'self' 'unsafe-inline'"},
			want: []string{"script-src 'self' 'unsafe-inline'"}},
		{name: "unsafe-inline without self: add self not nonce", csp: []string{"script-src 'unsafe-inline' https://cdn.example"},
			want: []string{"script-src 'unsafe-inline' https://cdn.example 'self'"}},
		{name: "unsafe-inline with narrow origin", csp: []string{"script-src 'unsafe-inline' https://cdn.example"}, origin: "https://www.example.com/__replay/",
			want: []string{"script-src 'unsafe-inline' https://cdn.example https://www.example.com/__replay/"}},
		{name: "unsafe-inline with hash: nonce is fine", csp: []string{"script-src 'unsafe-inline' 'sha256-abc='"},
			want: []string{"script-src 'unsafe-inline' 'sha256-abc=' " + N}, wantNonce: true},
		{name: "elem and src both get the nonce", csp: []string{"script-src-elem 'self'; script-src 'self'"},
			want: []string{"script-src-elem 'self' " + N + "; script-src 'self' " + N}, wantNonce: true},
		{name: "elem plus default-src", csp: []string{"script-src-elem 'self'; default-src 'self'"},
			want: []string{"script-src-elem 'self' " + N + "; default-src 'self'; script-src 'self' " + N}, wantNonce: true},
		{name: "script none is left alone", csp: []string{"script-src 'none'"}, wantBlock: true},
		{name: "default none is left alone", csp: []string{"default-src 'none'"}, wantBlock: true},
		{name: "empty script-src is none", csp: []string{"script-src; img-src 'self'"}, wantBlock: true},
		{name: "script none overridden", csp: []string{"script-src 'none'"}, override: true,
			want: []string{"script-src " + N}, wantNonce: true},
		{name: "default none overridden", csp: []string{"default-src 'none'"}, override: true,
			want: []string{"default-src 'none'; script-src " + N + "; connect-src 'self'"}, wantNonce: true},
		{name: "connect-src narrow", csp: []string{"connect-src https://api.example"},
			want: []string{"connect-src https://api.example 'self'"}},
		{name: "connect-src none", csp: []string{"connect-src 'none'"}, origin: "https://w.example/__replay/",
			want: []string{"connect-src https://w.example/__replay/"}},
		{name: "connect-src star", csp: []string{"connect-src *"}, want: []string{"connect-src *"}},
		{name: "unrelated directives unchanged", csp: []string{"frame-ancestors 'none'; upgrade-insecure-requests"},
			want: []string{"frame-ancestors 'none'; upgrade-insecure-requests"}},
		{name: "case-insensitive names", csp: []string{"Script-Src 'SELF'"}, want: []string{"script-src 'SELF' " + N}, wantNonce: true},
		{name: "duplicate directive: first wins", csp: []string{"script-src 'self'; script-src 'none'"},
			want: []string{"script-src 'self' " + N + "; script-src 'none'"}, wantNonce: true},
		{name: "two headers", csp: []string{"script-src 'self'", "default-src https:; connect-src 'self'"},
			want: []string{"script-src 'self' " + N, "default-src https:; connect-src 'self'; script-src https: " + N}, wantNonce: true},
		{name: "comma-joined policies", csp: []string{"script-src 'self', img-src 'none'"},
			want: []string{"script-src 'self' " + N + ", img-src 'none'"}, wantNonce: true},
		{name: "one of two headers blocks", csp: []string{"script-src 'self'", "script-src 'none'"}, wantBlock: true},
		{name: "report-only adjusted, none not blocking", ro: []string{"script-src 'none'", "script-src 'self'"},
			wRO: []string{"script-src 'none'", "script-src 'self' " + N}, wantNonce: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.csp {
				h.Add(headerCSP, v)
			}
			for _, v := range tc.ro {
				h.Add(headerCSPReportOnly, v)
			}
			cp := cspPolicy{ourSource: "'self'", overrideNone: tc.override}
			if tc.origin != "" {
				cp.ourSource = tc.origin
			}
			e := cp.plan(h)
			if e.blocked != tc.wantBlock {
				t.Fatalf("blocked = %v, want %v", e.blocked, tc.wantBlock)
			}
			if tc.wantBlock {
				return
			}
			if (e.nonce != "") != tc.wantNonce {
				t.Fatalf("nonce = %q, wantNonce %v", e.nonce, tc.wantNonce)
			}
			e.apply(h)
			check := func(key string, want []string) {
				got := h.Values(key)
				if want == nil {
					want = nil
				}
				if len(got) != len(want) {
					t.Fatalf("%s = %q, want %q", key, got, want)
				}
				for i := range want {
					w := strings.ReplaceAll(want[i], N, "'nonce-"+e.nonce+"'")
					if got[i] != w {
						t.Errorf("%s[%d]\ngot  %q\nwant %q", key, i, got[i], w)
					}
					if strings.Contains(strings.ToLower(got[i]), "unsafe-inline") != strings.Contains(strings.ToLower(w), "unsafe-inline") {
						t.Errorf("unsafe-inline added")
					}
				}
			}
			check(headerCSP, tc.want)
			check(headerCSPReportOnly, tc.wRO)
		})
	}
}

func TestNonceFreshAndValid(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := newNonce()
		if len(n) != 22 || seen[n] {
			t.Fatalf("nonce %q: want 22 fresh base64url characters", n)
		}
		for _, c := range n {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("nonce %q has %q", n, c)
			}
		}
		seen[n] = true
	}
}
